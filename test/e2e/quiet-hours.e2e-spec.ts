/**
 * Quiet hours follow the hierarchy on the real server (`node dist/src/main.js`, fake voice): a high gas alarm in
 * wuqing-fine goes up a one-step ladder naming the control room, the 技术负责人, the 主要负责人 and the district duty
 * desk. The quiet rule holds the 技术负责人 all day, so the 主要负责人 is held on the same terms; the duty desk is not
 * called for an alarm that is neither critical nor graded for the regulator. Only the control room is called.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';

type Callout = {
  id: string;
  alarmId: string;
  skipped: Array<{ role: string; reason: string }>;
  attempts: Array<{ calleeRole: string; number: string }>;
};

const ROOM = 'sip:8003@192.0.2.1';

function configDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-quiet-config-'));
  cpSync(join(__dirname, '..', '..', 'config'), dir, { recursive: true });
  writeFileSync(
    join(dir, 'callouts.yaml'),
    stringify({
      voice: { provider: 'fake', fake: { callSeconds: 2, default: 'ANSWERED_NO_ACK' } },
      policy: {
        startDelaySeconds: { high: 0 },
        ladder: [{ targets: ['control_room', 'technical', 'main', 'duty_desk'], afterSeconds: 0 }],
        // the technical manager is held all day for high alarms (two windows cover the clock)
        quiet: [
          { from: '00:00', to: '12:00', priorities: ['high'], targets: ['technical'] },
          { from: '12:00', to: '00:00', priorities: ['high'], targets: ['technical'] },
        ],
      },
      dutyCheck: { enabled: false },
      dutyDesks: [
        {
          id: 'wuqing-duty',
          name: '武清区应急管理局值班室',
          jurisdiction: 'tianjin/wuqing',
          number: '+862229341110',
        },
      ],
      sites: [
        {
          siteId: 'wuqing-fine',
          controlRoom: { name: '武清精细化工中控室', number: ROOM },
          responsible: {
            main: [{ name: '冯涛', number: '+8613800003001' }],
            technical: [{ name: '陈洁', number: '+8613800003002' }],
          },
        },
      ],
    }),
  );
  return dir;
}

describe('quiet hours follow the hierarchy (real server, fake voice)', () => {
  let server: ServerProcess;
  let mqtt: MqttClient;
  let tokens: Record<string, string>;

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false', CONFIG_DIR: configDir() } });
    tokens = server.tokens();
    mqtt = await connectAsync(server.mqttUrl() as string, {
      ...server.mqttAuth(),
      clientId: 'quiet-e2e',
      clean: true,
    });
  });
  afterAll(async () => {
    await mqtt?.endAsync();
    await server?.stop();
  });

  it('should hold the 主要负责人 with the 技术负责人 and leave the duty desk to critical or graded alarms', async () => {
    const callout = await pollUntil(
      async () => {
        await mqtt.publishAsync(
          telemetryTopic('wuqing-fine', 'hp-gd-1'),
          JSON.stringify({ ts: Date.now(), values: { conc: 5, fault: false } }),
          { qos: 1 },
        );
        const res = await fetch(`${server.url}/api/callouts?site=wuqing-fine`, {
          headers: { Authorization: `Bearer ${tokens.admin}` },
        });
        const c = ((await res.json()) as Callout[])[0];
        return c && c.attempts.length > 0 && c.skipped.length >= 3 ? c : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the call-out of the wuqing-fine gas alarm' },
    );
    expect(callout.attempts.map((a) => [a.calleeRole, a.number])).toEqual([['control_room', ROOM]]);
    expect(callout.skipped.map((s) => `${s.role}:${s.reason}`).sort()).toEqual([
      'duty_desk:not_graded',
      'main:quiet',
      'technical:quiet',
    ]);
  });
});
