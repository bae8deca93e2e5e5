/**
 * The `sip` voice provider against real SIP peers on loopback: SIPp (Debian package sip-tester) plays the control room
 * and the responsible persons. Each test runs a SIPp scenario from test/fixtures/sipp, drives a real CalloutService
 * (real AlarmService, real time) and asserts SIPp's own exit status and the stored attempt outcome. Records go to
 * PostgreSQL when TEST_DATABASE_URL is set (the real repository), else to the in-memory store.
 * Skipped, with the reason printed, only where the `sipp` binary is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { Pool } from 'pg';
import { makeAlarmTestConfig, makeCondition } from '../factories/alarm.factory';
import { AlarmService } from '../../src/alarms/alarm.service';
import { DEFAULT_ALARM_SETTINGS } from '../../src/alarms/domain/alarm-settings';
import type { ConditionChange } from '../../src/alarms/domain/condition-change';
import { InMemoryAlarmStore } from '../../src/alarms/testing/in-memory-alarm.store';
import { ScopeService } from '../../src/auth/scope.service';
import { systemClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import { validateInto } from '../../src/config/config.loader';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { toCalloutsConfig, type CalloutsConfig } from '../../src/notifications/callouts.loader';
import { CalloutsFileSchema } from '../../src/notifications/callouts.schema';
import { CalloutRepository } from '../../src/notifications/callout.repository';
import { CalloutService } from '../../src/notifications/callout.service';
import type { CalloutStore, CalloutView } from '../../src/notifications/callout.store';
import { InMemoryCalloutStore } from '../../src/notifications/testing/in-memory-callout.store';
import { SipVoiceProvider } from '../../src/notifications/voice/sip-voice.provider';
import { RtpSession, parseRtp } from '../../src/notifications/voice/sip/rtp';
import { systemScheduler } from '../../src/common/timer.port';
import { pollUntil } from '../setup/poll-until';
import { prepareTestDatabase, TEST_DATABASE_URL, uniqueId } from '../setup/test-db';

const SIPP = spawnSync('sipp', ['-v']).error ? undefined : 'sipp';
const ESPEAK = !spawnSync('espeak-ng', ['--version']).error && !spawnSync('sox', ['--version']).error;
const FIXTURES = join(__dirname, '..', 'fixtures', 'sipp');
const describeSip: jest.Describe = SIPP
  ? describe
  : (console.warn(
      'notifications-sip.int-spec.ts: skipped — the `sipp` binary is missing (apt-get install sip-tester)',
    ),
    describe.skip);

/** A free UDP port on loopback (bound, read, released). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

type Peer = { port: number; exit: Promise<{ code: number | null; output: string }> };

/**
 * Runs one SIPp UAS for one call; resolves with its exit status (0 = scenario completed). The readiness probe binds the
 * same port to see whether SIPp holds it, so it can win the race and make SIPp exit at start: then try a fresh port.
 */
async function sipp(scenario: string): Promise<Peer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sippOnce(scenario);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !err.message.includes('sipp exited before listening'))
        throw err;
    }
  }
}

async function sippOnce(scenario: string): Promise<Peer> {
  const port = await freeUdpPort();
  const media = 20000 + 2 * Math.floor(Math.random() * 4000);
  const child = spawn(
    SIPP as string,
    [
      '-sf',
      scenario.startsWith('/') ? scenario : join(FIXTURES, scenario),
      '-i',
      '127.0.0.1',
      '-p',
      String(port),
      '-mi',
      '127.0.0.1',
      '-mp',
      String(media),
      '-m',
      '1',
      '-timeout',
      '60s',
      '-timeout_error',
      '-nostdin',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, output })),
  );
  // SIPp binds at once; give the socket a moment by polling until the port is taken (or SIPp gives up, loudly)
  let exited = false;
  void exit.then(() => (exited = true));
  await pollUntil(
    async () => {
      const s = createSocket('udp4');
      const taken = await new Promise<boolean>((r) => {
        s.once('error', () => r(true));
        s.bind(port, '127.0.0.1', () => r(false));
      });
      s.close();
      if (exited) throw new Error(`sipp exited before listening:\n${output.slice(-2000)}`);
      return taken;
    },
    { timeoutMs: 5_000, what: `sipp listening on ${port}` },
  );
  return { port, exit };
}

describeSip('sip voice provider against SIPp on loopback', () => {
  let pool: Pool | undefined;
  let store: CalloutStore;
  const dataDir = mkdtempSync(join(tmpdir(), 'hazwatch-sip-'));

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    if (TEST_DATABASE_URL) {
      await prepareTestDatabase(TEST_DATABASE_URL);
      pool = new Pool({ connectionString: TEST_DATABASE_URL });
      store = new CalloutRepository(pool);
      console.log('notifications-sip: records in PostgreSQL (TEST_DATABASE_URL)');
    } else {
      store = new InMemoryCalloutStore();
      console.log('notifications-sip: TEST_DATABASE_URL unset — records in the in-memory store');
    }
  });
  afterAll(async () => {
    await pool?.end();
  });

  /** Boots alarms + call-outs with the SIP provider; the control room and 操作负责人 numbers point at SIPp peers. */
  async function world(opts: { room: string; operations?: string; username?: string; password?: string }) {
    // a fresh site per test: call-outs of other tests (and suites) in the same database are not this one's to resume
    const siteId = uniqueId('sip');
    const app = makeAlarmTestConfig({ binhai: siteId });
    const metrics = new HazwatchMetrics(false);
    const conditions = new Subject<ConditionChange>();
    const alarms = new AlarmService(
      new InMemoryAlarmStore(),
      systemClock,
      conditions,
      DEFAULT_ALARM_SETTINGS,
      app,
      new ScopeService(app),
      metrics,
      systemScheduler,
      {
        actionCommitWaitMs: 0,
        shutdownDrainMs: 0,
      },
    );
    alarms.start();
    await alarms.whenReady();
    const file = validateInto(
      CalloutsFileSchema,
      {
        voice: {
          provider: 'sip',
          sip: {
            localAddress: '127.0.0.1',
            localPort: 0,
            rtpPortMin: 30000,
            rtpPortMax: 39998,
            ...(opts.username ? { username: opts.username, password: opts.password ?? 's3cret-test' } : {}),
          },
        },
        sites: [
          {
            siteId,
            controlRoom: { name: '渤海化工中控室', number: opts.room },
            responsible: {
              operations: [{ name: '王强', number: opts.operations ?? 'sip:9999@127.0.0.1:9' }],
            },
          },
        ],
      },
      'callouts.yaml',
    );
    const base = toCalloutsConfig(file, app.plant, 'callouts.yaml', false);
    // short real-time figures so each call takes seconds (the defaults are DOMAIN §6's 40 s ring, 30 s key)
    const config: CalloutsConfig = {
      ...base,
      policy: {
        ...base.policy,
        ringTimeoutMs: 3_000,
        keyTimeoutMs: 5_000,
        retries: 0,
        loops: 1,
        loopDelayMs: 0,
        promptRepeats: 2,
        ladder: opts.operations
          ? [
              { targets: ['control_room'], afterMs: 0 },
              { targets: ['operations'], afterMs: 0 },
            ]
          : [{ targets: ['control_room'], afterMs: 0 }],
      },
    };
    const voice = new SipVoiceProvider(config.voice.sip!, dataDir, systemClock);
    const callouts = new CalloutService(
      alarms,
      config,
      store,
      voice,
      systemClock,
      app,
      metrics,
      systemScheduler,
    );
    callouts.onModuleInit();
    await callouts.whenRecovered();
    const ruleId = uniqueId('sip');
    const raise = async (): Promise<string> => {
      conditions.next(makeCondition({ ruleId, siteId, priority: 'critical', ts: Date.now() }));
      return (
        await pollUntil(() => alarms.records().find((a) => a.ruleId === ruleId), { what: 'alarm raised' })
      ).id;
    };
    const callout = async (alarmId: string, done: (c: CalloutView) => boolean): Promise<CalloutView> =>
      pollUntil(
        async () => {
          const [c] = await store.listCallouts({ alarmId, limit: 1 });
          return c && done(c) ? c : undefined;
        },
        { timeoutMs: 40_000, intervalMs: 100, what: 'call-out record' },
      );
    const stop = async (): Promise<void> => {
      await callouts.onModuleDestroy();
      await voice.close();
      await alarms.stop();
    };
    return { alarms, raise, callout, stop };
  }

  it('should acknowledge the alarm as the control room when it answers and presses 1 (RFC 4733)', async () => {
    const peer = await sipp('answer-rtp-dtmf.xml');
    const w = await world({ room: `sip:8001@127.0.0.1:${peer.port}` });
    const id = await w.raise();
    const c = await w.callout(id, (x) => x.status !== 'active' && x.attempts[0]?.outcome !== undefined);
    const sipStatus = await peer.exit;
    expect({ code: sipStatus.code, tail: sipStatus.code === 0 ? '' : sipStatus.output.slice(-2000) }).toEqual(
      { code: 0, tail: '' },
    );
    expect(c).toMatchObject({ status: 'acked', stopReason: 'key_ack' });
    expect(c.attempts[0]).toMatchObject({
      outcome: 'ACKED',
      digits: '1',
      sipCode: 200,
      provider: 'sip',
      calleeRole: 'control_room',
    });
    expect(c.attempts[0]?.events.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['invite_sent', 'ringing', 'answered', 'dtmf', 'bye_sent', 'ended']),
    );
    expect(w.alarms.record(id)).toMatchObject({ acked: true });
    expect(w.alarms.record(id)?.ackedBy).toContain(
      `电话确认 渤海化工中控室 中控室 sip:8001@127.0.0.1:${peer.port}`,
    );
    // the spoken prompt was synthesised (espeak-ng + sox) and cached, or the fallback was recorded as an event
    const kinds = c.attempts[0]?.events.map((e) => e.kind) ?? [];
    if (ESPEAK) {
      expect(kinds).not.toContain('prompt_fallback');
      const cached = readdirSync(join(dataDir, 'prompts')).filter((f) => f.endsWith('.ul'));
      expect(cached.length).toBeGreaterThanOrEqual(1);
      expect(statSync(join(dataDir, 'prompts', cached[0]!)).size).toBeGreaterThan(8000); // > 1 s of 8 kHz μ-law
    } else {
      console.warn('espeak-ng or sox missing: checking the beep fallback instead of speech');
      expect(kinds).toContain('prompt_fallback');
    }
    expect(c.attempts[0]?.promptVersion).toMatch(/^zh-1-[0-9a-f]{8}$/);
    await w.stop();
  });

  it('should escalate to the 操作负责人 when the control room answers and presses nothing', async () => {
    const room = await sipp('answer-no-key.xml');
    const ops = await sipp('answer-rtp-dtmf.xml');
    const w = await world({
      room: `sip:8001@127.0.0.1:${room.port}`,
      operations: `sip:8003@127.0.0.1:${ops.port}`,
    });
    const id = await w.raise();
    const c = await w.callout(
      id,
      (x) =>
        x.status !== 'active' && x.attempts.length === 2 && x.attempts.every((a) => a.outcome !== undefined),
    );
    expect((await room.exit).code).toBe(0);
    expect((await ops.exit).code).toBe(0);
    expect(c.attempts.map((a) => [a.calleeRole, a.outcome])).toEqual([
      ['control_room', 'ANSWERED_NO_ACK'],
      ['operations', 'ACKED'],
    ]);
    expect(w.alarms.record(id)?.ackedBy).toContain('电话确认 王强 操作负责人');
    await w.stop();
  });

  it('should record WRONG_KEY when the callee presses another key and then nothing until the key timeout', async () => {
    const peer = await sipp('answer-wrong-key.xml');
    const w = await world({ room: `sip:8001@127.0.0.1:${peer.port}` });
    const id = await w.raise();
    const c = await w.callout(id, (x) => x.status !== 'active' && x.attempts[0]?.outcome !== undefined);
    expect((await peer.exit).code).toBe(0);
    expect(c.attempts[0]).toMatchObject({ outcome: 'WRONG_KEY', digits: '5' });
    expect(c).toMatchObject({ status: 'exhausted' });
    expect(w.alarms.record(id)).toMatchObject({ acked: false });
    await w.stop();
  });

  it('should record BUSY when the peer answers 486 and ACK it', async () => {
    const peer = await sipp('busy.xml');
    const w = await world({ room: `sip:8001@127.0.0.1:${peer.port}` });
    const id = await w.raise();
    const c = await w.callout(id, (x) => x.attempts[0]?.outcome !== undefined);
    expect((await peer.exit).code).toBe(0);
    expect(c.attempts[0]).toMatchObject({ outcome: 'BUSY', sipCode: 486 });
    await w.stop();
  });

  it.each([
    [404, 'Not Found', 'UNREACHABLE'],
    [603, 'Decline', 'REJECTED'],
    [480, 'Temporarily Unavailable', 'NO_ANSWER'],
    [503, 'Service Unavailable', 'FAILED'],
  ])('should map a final %i %s to %s and ACK it', async (status, reason, outcome) => {
    // SIPp reads a status code when it loads the scenario: fill the template in
    const file = join(dataDir, `final-${status}.xml`);
    writeFileSync(
      file,
      readFileSync(join(FIXTURES, 'final-status.xml'), 'utf8').replaceAll(
        '[status] [reason]',
        `${status} ${reason}`,
      ),
    );
    const peer = await sipp(file);
    const w = await world({ room: `sip:8001@127.0.0.1:${peer.port}` });
    const id = await w.raise();
    const c = await w.callout(id, (x) => x.attempts[0]?.outcome !== undefined);
    expect((await peer.exit).code).toBe(0);
    expect(c.attempts[0]).toMatchObject({ outcome, sipCode: status, sipStatus: reason });
    await w.stop();
  });

  it('should CANCEL at the ring timeout and record NO_ANSWER when the peer only rings', async () => {
    const peer = await sipp('ring-no-answer.xml');
    const w = await world({ room: `sip:8001@127.0.0.1:${peer.port}` });
    const id = await w.raise();
    const c = await w.callout(id, (x) => x.attempts[0]?.outcome !== undefined);
    expect((await peer.exit).code).toBe(0);
    expect(c.attempts[0]).toMatchObject({ outcome: 'NO_ANSWER', sipCode: 487 });
    expect(c.attempts[0]?.events.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['ringing', 'cancel_sent']),
    );
    await w.stop();
  });

  it('should take keys from SIP INFO (application/dtmf-relay), count a retransmitted INFO once and ack on the right key after a wrong one', async () => {
    const peer = await sipp('answer-info-dtmf.xml');
    const w = await world({ room: `sip:8001@127.0.0.1:${peer.port}` });
    const id = await w.raise();
    const c = await w.callout(id, (x) => x.attempts[0]?.outcome !== undefined);
    const exit = await peer.exit;
    expect({ code: exit.code, tail: exit.code === 0 ? '' : exit.output.slice(-2000) }).toEqual({
      code: 0,
      tail: '',
    });
    expect(c.attempts[0]).toMatchObject({ outcome: 'ACKED', digits: '51' });
    expect(c.attempts[0]?.events.filter((e) => e.kind === 'dtmf').map((e) => e.detail)).toEqual([
      '5 (SIP INFO)',
      '1 (SIP INFO)',
    ]);
    await w.stop();
  });

  it('should send the prompt as 20 ms PCMU RTP packets to the media address of the answer', async () => {
    const sink = createSocket('udp4');
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
    const packets: Buffer[] = [];
    sink.on('message', (m) => packets.push(m));
    const rtp = await RtpSession.open('127.0.0.1', 30000, 39998, () => undefined);
    const audio = Buffer.alloc(1600, 0x55); // 200 ms
    rtp.play(
      { address: '127.0.0.1', port: sink.address().port, telephoneEventPt: 101, payloadTypes: [0] },
      audio,
      1,
    );
    await pollUntil(() => packets.length >= 12, { timeoutMs: 5_000, what: '12 RTP packets' });
    rtp.close();
    sink.close();
    const first = parseRtp(packets[0]!);
    expect(first).toMatchObject({ payloadType: 0, marker: true });
    expect(first?.payload.length).toBe(160);
    expect(first?.payload.every((b) => b === 0x55)).toBe(true);
    const ts = packets.slice(0, 12).map((p) => parseRtp(p)!.timestamp);
    expect(ts.slice(1).map((t, i) => (t - ts[i]! + 2 ** 32) % 2 ** 32)).toEqual(Array(11).fill(160));
    // after the 10 frames of audio and before the repeat: μ-law silence
    expect(parseRtp(packets[11]!)?.payload.every((b) => b === 0xff)).toBe(true);
  });

  it('should answer a proxy digest challenge (407) with Proxy-Authorization', async () => {
    const peer = await sipp('proxy-auth-answer-rtp-dtmf.xml');
    const w = await world({ room: `sip:8001@127.0.0.1:${peer.port}`, username: 'hazwatch' });
    const id = await w.raise();
    const c = await w.callout(id, (x) => x.attempts[0]?.outcome !== undefined);
    const exit = await peer.exit;
    expect({ code: exit.code, tail: exit.code === 0 ? '' : exit.output.slice(-2000) }).toEqual({
      code: 0,
      tail: '',
    });
    expect(c.attempts[0]).toMatchObject({ outcome: 'ACKED', digits: '1' });
    expect(c.attempts[0]?.events.find((e) => e.kind === 'auth_challenge')?.sipCode).toBe(407);
    await w.stop();
  });

  it('should record REJECTED (403) and not send the credentials again when the gateway refuses them', async () => {
    const peer = await sipp('auth-answer-rtp-dtmf.xml');
    const w = await world({
      room: `sip:8001@127.0.0.1:${peer.port}`,
      username: 'hazwatch',
      password: 'wrong',
    });
    const id = await w.raise();
    const c = await w.callout(id, (x) => x.attempts[0]?.outcome !== undefined);
    expect(c.attempts[0]).toMatchObject({ outcome: 'REJECTED', sipCode: 403 });
    expect(c.attempts[0]?.events.filter((e) => e.kind === 'invite_sent')).toHaveLength(2);
    await peer.exit;
    await w.stop();
  });

  it('should answer a digest challenge (401) and complete the call', async () => {
    const peer = await sipp('auth-answer-rtp-dtmf.xml');
    const w = await world({ room: `sip:8001@127.0.0.1:${peer.port}`, username: 'hazwatch' });
    const id = await w.raise();
    const c = await w.callout(id, (x) => x.attempts[0]?.outcome !== undefined);
    const exit = await peer.exit;
    expect({ code: exit.code, tail: exit.code === 0 ? '' : exit.output.slice(-2000) }).toEqual({
      code: 0,
      tail: '',
    });
    expect(c.attempts[0]).toMatchObject({ outcome: 'ACKED', digits: '1', sipCode: 200 });
    expect(c.attempts[0]?.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['auth_challenge']));
    await w.stop();
  });
});
