/**
 * Alarm call-outs end to end on the real server (`node dist/src/main.js`: embedded PostgreSQL, in-process broker, real
 * rules and alarms, fake voice provider as in demo mode): a gas reading over MQTT raises a high alarm, the control room
 * is called at once and presses 1 → the alarm is acknowledged in the journal under the callee's name; in another
 * enterprise an operator acknowledges on the console while the control room's phone rings → the call is cancelled.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';

type Attempt = { calleeRole: string; calleeName: string; number: string; outcome?: string; digits: string };
type Callout = { id: string; alarmId: string; status: string; stopReason?: string; attempts: Attempt[] };
type Alarm = {
  id: string;
  siteId: string;
  deviceId?: string;
  condition: string;
  state: string;
  acked: boolean;
  ackedBy?: string;
  priority: string;
};

const BOHAI_ROOM = 'sip:8001@192.0.2.1';
const NANGANG_ROOM = 'sip:8002@192.0.2.1';

function configDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-callout-config-'));
  cpSync(join(__dirname, '..', '..', 'config'), dir, { recursive: true });
  writeFileSync(
    join(dir, 'callouts.yaml'),
    stringify({
      voice: {
        provider: 'fake',
        fake: {
          callSeconds: 4,
          default: 'ANSWERED_NO_ACK',
          byNumber: { [BOHAI_ROOM]: ['ACKED'], [NANGANG_ROOM]: ['ANSWERED_NO_ACK'] },
        },
      },
      policy: { startDelaySeconds: { high: 0 } },
      dutyCheck: { enabled: false },
      sites: [
        {
          siteId: 'bohai-chem',
          controlRoom: { name: '渤海化工中控室', number: BOHAI_ROOM },
          responsible: { operations: [{ name: '王强', number: '+8613800001003' }] },
        },
        {
          siteId: 'nangang-petro',
          controlRoom: { name: '南港石化中控室', number: NANGANG_ROOM },
          responsible: {},
        },
      ],
    }),
  );
  return dir;
}

describe('alarm call-outs end to end (real server, MQTT → rules → alarms → call-out, fake voice)', () => {
  let server: ServerProcess;
  let mqtt: MqttClient;
  let tokens: Record<string, string>;

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false', CONFIG_DIR: configDir() } });
    tokens = server.tokens();
    mqtt = await connectAsync(server.mqttUrl() as string, {
      ...server.mqttAuth(),
      clientId: 'callout-e2e',
      clean: true,
    });
  });
  afterAll(async () => {
    await mqtt?.endAsync();
    await server?.stop();
  });

  const get = async <T>(path: string): Promise<T> =>
    (await (
      await fetch(`${server.url}${path}`, { headers: { Authorization: `Bearer ${tokens.admin}` } })
    ).json()) as T;
  /** Keeps publishing the reading (as a detector does) until the alarm shows up. */
  const raise = (siteId: string, deviceId: string, conc: number): Promise<Alarm> =>
    pollUntil(
      async () => {
        await mqtt.publishAsync(
          telemetryTopic(siteId, deviceId),
          JSON.stringify({ ts: Date.now(), values: { conc, fault: false } }),
          { qos: 1 },
        );
        return (await get<Alarm[]>(`/api/alarms?site=${siteId}`)).find(
          (a) => a.deviceId === deviceId && a.condition === 'gas_l2',
        );
      },
      { timeoutMs: 30_000, intervalMs: 250, what: `gas_l2 on ${deviceId}` },
    );

  it('should acknowledge the alarm under the callee’s name when the control room presses 1', async () => {
    const alarm = await raise('bohai-chem', 'cl-gd-1', 3);
    expect(alarm.priority).toBe('high');
    const acked = await pollUntil(
      async () => {
        const a = await get<Alarm>(`/api/alarms/${alarm.id}`);
        return a.acked ? a : undefined;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 250,
        what: 'the alarm acknowledged by phone',
      },
    );
    expect(acked.ackedBy).toContain(`电话确认 渤海化工中控室 中控室 ${BOHAI_ROOM}`);
    const [callout] = await get<Callout[]>(`/api/callouts?alarm=${alarm.id}`);
    expect(callout).toMatchObject({ status: 'acked', stopReason: 'key_ack' });
    expect(callout?.attempts).toEqual([
      expect.objectContaining({
        calleeRole: 'control_room',
        number: BOHAI_ROOM,
        outcome: 'ACKED',
        digits: '1',
      }),
    ]);
    const journal = await get<Array<{ event: string; actor?: string; comment?: string }>>(
      `/api/alarms/${alarm.id}/journal`,
    );
    expect(journal.find((e) => e.event === 'acknowledged')).toMatchObject({
      actor: expect.stringContaining('电话确认 渤海化工中控室'),
      comment: expect.stringContaining('按键确认'),
    });
  });

  it('should cancel the ringing call when an operator acknowledges on the console', async () => {
    const alarm = await raise('nangang-petro', 'bz-gd-1', 45);
    await pollUntil(
      async () => (await get<Callout[]>(`/api/callouts?alarm=${alarm.id}`))[0]?.attempts.length === 1,
      { timeoutMs: 10_000, intervalMs: 100, what: 'the control room being called' },
    );
    const ack = await fetch(`${server.url}/api/alarms/${alarm.id}/ack`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.operator}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ comment: 'seen on the console' }),
    });
    expect(ack.status).toBe(200);
    const callout = await pollUntil(
      async () => {
        const c = (await get<Callout[]>(`/api/callouts?alarm=${alarm.id}`))[0];
        return c?.status === 'stopped' && c.attempts[0]?.outcome ? c : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'the call-out stopped' },
    );
    expect(callout).toMatchObject({ stopReason: 'console_ack' });
    expect(callout.attempts.map((a) => a.outcome)).toEqual(['CANCELED']);
    expect((await get<Alarm>(`/api/alarms/${alarm.id}`)).ackedBy).toContain('demo operator');
  });
});
