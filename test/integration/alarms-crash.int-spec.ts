/**
 * Alarm events across a database fault and a server stop, on the real server process (`node dist/src/main.js`, needs
 * `npm run build`) with the local PostgreSQL behind a TCP proxy and the server's embedded MQTT broker:
 * every event a WebSocket client saw is in the journal after the restart, no seq is reused, the hash chain verifies,
 * and a client resuming with `since` gets every journalled event (docs/adr/0011-journal-before-announce.md).
 *
 * Database ok / refusing (proxy cut) / hanging (proxy hang: open connections, nothing forwarded) × kill -9 / graceful stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { Client } from 'pg';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { WsTestClient } from '../e2e/ws-test-client';
import { reportFault } from '../setup/fault-report';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';
import { TcpProxy } from '../setup/tcp-proxy';
import {
  TEST_DATABASE_URL,
  createScratchDatabase,
  describeWithDb,
  prepareTestDatabase,
} from '../setup/test-db';

const suite = describeWithDb('alarms-crash.int-spec');

type DbMode = 'ok' | 'refusing' | 'hanging';
type StopMode = 'kill-9' | 'graceful';
type Seen = { seq: number; id: string; event: string; journalled?: boolean };

const ALL_CASES: Array<[DbMode, StopMode]> = [
  ['hanging', 'kill-9'],
  ['hanging', 'graceful'],
  ['refusing', 'kill-9'],
  ['refusing', 'graceful'],
  ['ok', 'kill-9'],
  ['ok', 'graceful'],
];
/** ~20 s per case: CI runs the fault cases; ALARM_CRASH_ALL=1 adds the database-ok ones (full matrix). */
const CASES = process.env.ALARM_CRASH_ALL === '1' ? ALL_CASES : ALL_CASES.slice(0, 3);
/** The server's own deadline for a graceful stop (SHUTDOWN_TIMEOUT_S); the test kills it only well after that. */
const SHUTDOWN_TIMEOUT_S = 8;
const GRACEFUL_STOP_MS = (SHUTDOWN_TIMEOUT_S + 12) * 1000;

const SERVER_ENV = {
  SIMULATE: 'false',
  LOG_LEVEL: 'warn',
  // short timeouts so a hung database is noticed fast and the suite stays short
  DB_QUERY_TIMEOUT_MS: '1500',
  DB_CONNECT_TIMEOUT_MS: '1500',
  DB_PROBE_INTERVAL_MS: '500',
  DB_PROBE_TIMEOUT_MS: '1000',
  SHUTDOWN_TIMEOUT_S: String(SHUTDOWN_TIMEOUT_S),
};

suite('alarm events survive database faults and server stops (real server process)', () => {
  it.each(CASES)('database %s, server stop %s', async (dbMode, stopMode) => {
    const name = `alarm-journal db=${dbMode} stop=${stopMode}`;
    // a fresh database per case: the journal chain and the active alarms are global
    const scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'alarmcrash');
    await prepareTestDatabase(scratch.url);
    const sql = new Client({ connectionString: scratch.url });
    await sql.connect();
    const target = new URL(scratch.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(scratch.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(await proxy.start());
    const dataDir = mkdtempSync(join(tmpdir(), 'hazwatch-alarm-crash-'));
    const env = { ...SERVER_ENV, DATABASE_URL: viaProxy.toString() };
    const servers: ServerProcess[] = [];
    const clients: WsTestClient[] = [];
    let mqtt: MqttClient | undefined;
    try {
      const first = await startServer({ env, dataDir });
      servers.push(first);
      const token = first.tokens().admin;
      if (!token) throw new Error('the server printed no admin demo token');
      const wsUrl = (s: ServerProcess): string => s.url.replace(/^http/, 'ws') + '/ws';
      const ws = await WsTestClient.connect(wsUrl(first), { Authorization: `Bearer ${token}` });
      clients.push(ws);
      await ws.waitFor('hello');
      const startSeq = ws.of('hello')[0]?.data.seq as number;
      ws.send('subscribe', { alarms: true, since: startSeq });
      await ws.waitFor('subscribed');
      mqtt = await connectAsync(first.mqttUrl() as string, {
        clientId: `alarm-crash-${dbMode}-${stopMode}`,
        clean: true,
      });
      const client = mqtt;
      const publish = (siteId: string, deviceId: string, conc: number): Promise<unknown> =>
        client.publishAsync(
          telemetryTopic(siteId, deviceId),
          JSON.stringify({ ts: Date.now(), values: { conc, fault: false } }),
          { qos: 1 },
        );
      const seen = (): Seen[] => ws.of('alarm').map((f) => f.data as unknown as Seen);
      // before the fault: alarms journalled normally (the "no data" alarms of detectors that have not reported, and
      // a gas excursion published meanwhile)
      void publish('bohai-chem', 'cl-gd-1', 3).catch(() => undefined);
      await pollUntil(() => seen().length >= 3, { timeoutMs: 30_000, intervalMs: 100, what: 'first alarms' });
      if (dbMode === 'hanging') proxy.hang();
      if (dbMode === 'refusing') await proxy.cut();
      // during the fault: operator acks (events like any other) must still be announced and answered
      const before = seen().length;
      const toAck = seen()
        .filter((e) => (e as unknown as { acked: boolean }).acked === false)
        .slice(0, 3)
        .map((e) => e.id);
      for (const id of toAck) {
        const res = await fetch(`${first.url}/api/alarms/${encodeURIComponent(id)}/ack`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ comment: `ack during ${dbMode}` }),
        });
        expect(res.status).toBeLessThan(300);
      }
      await pollUntil(
        () =>
          seen()
            .slice(before)
            .filter((e) => e.event === 'acknowledged').length >= toAck.length,
        {
          timeoutMs: 20_000,
          intervalMs: 100,
          what: 'acks announced during the fault',
        },
      );
      const duringFault = seen().slice(before);
      expect(duringFault.length).toBeGreaterThanOrEqual(3);
      if (dbMode !== 'ok') expect(duringFault.every((e) => e.journalled === false)).toBe(true);

      let stopNote = '';
      if (stopMode === 'kill-9') await first.stop('SIGKILL');
      else {
        const t0 = Date.now();
        const exit = await Promise.race([
          first.stop('SIGTERM'),
          new Promise<'still running'>((r) => setTimeout(() => r('still running'), GRACEFUL_STOP_MS)),
        ]);
        if (exit === 'still running') {
          stopNote = `; graceful stop did not end within ${GRACEFUL_STOP_MS} ms: killed`;
          await first.stop('SIGKILL');
        } else {
          stopNote = `; graceful stop ended by itself in ${((Date.now() - t0) / 1000).toFixed(1)} s, exit code ${exit}`;
        }
        // The server's own deadline ends a stop that the hung database holds up (exit code 1), never the test's kill.
        expect(exit).not.toBe('still running');
      }
      await mqtt.endAsync(true);
      mqtt = undefined;
      ws.close();
      proxy.unhang();
      await proxy.restore();

      const events = seen();
      const second = await startServer({ env, dataDir });
      servers.push(second);
      // every event the client saw reaches the journal (the write-ahead log is replayed at start)
      const journal = async (): Promise<Map<number, { id: string; event: string }>> =>
        new Map(
          (
            await sql.query<{ seq: string; alarm_id: string; event: string }>(
              'SELECT seq, alarm_id, event FROM alarm_journal ORDER BY seq',
            )
          ).rows.map((r) => [Number(r.seq), { id: r.alarm_id, event: r.event }]),
        );
      const maxSeen = Math.max(...events.map((e) => e.seq));
      await pollUntil(async () => (await journal()).has(maxSeen), {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: `journal row ${maxSeen}`,
      }).catch(() => undefined);
      const rows = await journal();
      const stored = events.filter(
        (e) => rows.get(e.seq)?.id === e.id && rows.get(e.seq)?.event === e.event,
      ).length;
      // a seq reused for a different event shows as a journal row that differs from what the client saw
      const reused = events.filter(
        (e) => rows.has(e.seq) && (rows.get(e.seq)?.id !== e.id || rows.get(e.seq)?.event !== e.event),
      ).length;
      const lost = reportFault(
        name,
        { sent: events.length, stored, duplicated: reused },
        `${duringFault.length} announced during the fault${stopNote}`,
      );
      expect(lost).toBe(0);
      expect(reused).toBe(0);

      // the chain verifies and the next event continues after the highest seq ever announced
      const verify = await fetch(`${second.url}/api/journal/verify`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(await verify.json()).toMatchObject({ ok: true });
      const ws2 = await WsTestClient.connect(wsUrl(second), { Authorization: `Bearer ${token}` });
      clients.push(ws2);
      await ws2.waitFor('hello');
      expect(ws2.of('hello')[0]?.data.seq).toBeGreaterThanOrEqual(maxSeen);
      ws2.send('subscribe', { alarms: true, since: startSeq });
      await ws2.waitFor('subscribed');
      const replayed = ws2.of('alarm').map((f) => f.data.seq as number);
      const journalled = [...(await journal()).keys()].filter((s) => s > startSeq);
      expect(replayed).toEqual(journalled);
    } finally {
      for (const c of clients) c.close();
      await mqtt?.endAsync(true);
      for (const s of servers) await s.stop('SIGKILL');
      proxy.unhang();
      await proxy.close();
      await sql.end();
      await scratch.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
