/**
 * Site link supervision end to end (docs/alarm-lifecycle.md, "Site link"): the real server (`dist/src/main.js`, demo
 * plant and config), the real simulator code publishing bohai-chem's 25 devices over MQTT. When the simulators stop
 * (every device announces `offline`, as a gateway's devices do when it drops), the operators get ONE `site_offline`
 * alarm for bohai-chem, not 25 device alarms; the device alarms are recorded and suppressed.
 */
import { startSimulators, type RunningSimulators, type SimLogger } from '../../simulators/plant.simulator';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';
import { AlarmEventRecorder, demoPlant, type AlarmEvent } from './scenario-harness';

const SITE = 'bohai-chem';
const quiet: SimLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const announced = (e: AlarmEvent): boolean =>
  e.state === 'unacknowledged' && ['raised', 'unsuppressed', 'realarm'].includes(e.event);

describe('site link supervision end to end', () => {
  let server: ServerProcess | undefined;
  let recorder: AlarmEventRecorder | undefined;
  let sims: RunningSimulators | undefined;

  afterAll(async () => {
    await sims?.stop();
    recorder?.close();
    await server?.stop();
  });

  it('should announce one site_offline alarm, not 25 device alarms, when every device of the site drops', async () => {
    const devices = [...demoPlant().deviceByKey.values()]
      .filter((d) => d.siteId === SITE)
      .map((d) => `${d.siteId}/${d.id}`);
    expect(devices).toHaveLength(25);
    server = await startServer({ env: { SIMULATE: 'false' } });
    const token = server.tokens().operator ?? '';
    recorder = await AlarmEventRecorder.open(server.url, token);
    sims = await startSimulators({
      url: server.mqttUrl() as string,
      plant: demoPlant(),
      devices,
      clientIdPrefix: 'e2e-site-link',
      ...server.mqttAuth(),
      logger: quiet,
    });
    const get = async (path: string): Promise<unknown> => {
      const res = await fetch(`${server!.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      return res.json();
    };
    // every device of the site reporting (online), and nothing of the site's link alarmed
    await pollUntil(
      async () => {
        const list = (await get(`/api/devices?site=${SITE}`)) as Array<{ state?: string }>;
        return list.length === 25 && list.every((d) => d.state === 'online') ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'all 25 bohai-chem devices online' },
    );
    const before = recorder.events().length;
    await sims.stop();
    sims = undefined;
    const site = await pollUntil(
      () =>
        recorder!
          .events()
          .slice(before)
          .find((e) => e.siteId === SITE && e.condition === 'site_offline' && e.event === 'raised'),
      { timeoutMs: 60_000, intervalMs: 200, what: 'site_offline raised' },
    );
    expect(site).toMatchObject({ state: 'unacknowledged', priority: 'high', limit: 25 });
    // let every device's offline alarm (10 s on-delay) arrive, then count what the operators were told
    await pollUntil(
      async () => {
        const list = (await get(`/api/alarms?site=${SITE}`)) as Array<{ condition: string; state: string }>;
        return list.filter((a) => a.condition === 'offline' && a.state === 'suppressed').length === 25
          ? true
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: '25 offline alarms suppressed' },
    );
    const siteEvents = recorder
      .events()
      .slice(before)
      .filter((e) => e.siteId === SITE);
    // the only other announcement: cl-a1's chlorine vote, whose faulted detectors count as tripped (fail-safe by design,
    // config/rules.yaml), a process alarm that is never suppressed
    expect(
      siteEvents
        .filter(announced)
        .map((e) => `${e.ruleId} ${e.condition}`)
        .sort(),
    ).toEqual([`ext:site-link:${SITE} site_offline`, 'vote:cl-a1 vote']);
    expect(siteEvents.filter((e) => e.condition === 'offline' && e.event === 'raised')).toHaveLength(25);
  }, 150_000);
});
