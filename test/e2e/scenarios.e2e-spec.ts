/**
 * Every simulator scenario (one per rule kind), end to end: the real simulator code (`startSimulators`, as `npm run simulate --
 * --scenario X` runs it) publishes over MQTT into the real server (`node dist/src/main.js`: in-process broker, embedded
 * PostgreSQL, the demo plant and the rules of config/, real alarm service), and each test asserts the exact ordered
 * sequence of alarm events (`/ws` alarm frames: raised / cleared / suppressed …) that its scenario causes, then checks
 * the rule delays against the stored telemetry in event time (GET /api/telemetry).
 *
 * Runtime budget (≤ 3 min for all seven on a 2-core CI machine) and how the assertions stay honest:
 * - One server, all seven scenarios at once on disjoint parts of the demo plant, each by its own simulator instance
 *   simulating whole areas (so no device goes silent and every vote and interlock sees its full area):
 *   chlorine-leak on cl-a1 (without its lightning system), lightning-system-fault on cl-sys-lightning, overfill on
 *   nh-a1 (tank nh-tk-1), detector-fault on bz-a1, valve-stuck on vc-a1, detector-drift on hp-a1, comms-loss on me-a1.
 *   A final test checks that no alarm event happened outside these scopes, so the scenarios cannot hide each other.
 * - No time compression and no rules.yaml override: devices stamp wall time, every rule runs with its configured
 *   timings (2 s gas on-delays, 15 s valve travel, 20 s interlock deadline, 10 s tank H/HH on-delays, 10 s
 *   stale/offline; a device's stale/offline raise waits up to 20 s for the site link verdict, its raisedAt unchanged).
 * - The only shortening is in the plant's misbehaviour: the overfill fills at 3× its default rate (90 %/min,
 *   `--scenario-speed 3`).
 * - Everything is waited for (`/ws` frames, stored history); nothing sleeps. The whole file takes ~2 min.
 * Orders between devices follow from the fixed seed (42): each device samples at a fixed phase of its period; the
 * comments give the expected model time (s after the simulators start) of each event. Scenarios start at 18 s.
 */
import { JsonLogger } from '../../src/common/logger';
import { startSimulators, type RunningSimulators, type SimLogger } from '../../simulators/plant.simulator';
import type { ScenarioName } from '../../simulators/scenario.types';
import { startServer, type ServerProcess } from '../setup/server-process';
import {
  AlarmEventRecorder,
  areaDevices,
  demoPlant,
  describeEvent,
  firstSample,
  longestGap,
  ownerKeyOf,
  storedSamples,
  timeOf,
  waitForCount,
  type AlarmEvent,
  type Sample,
} from './scenario-harness';

const SCENARIO_START_MS = 18_000;
const LIGHTNING = 'bohai-chem/cl-sys-lightning';
/** Slack after the expected time of a scenario's last event before its test stops waiting. */
const WAIT_SLACK_S = 30;

type ScenarioCase = {
  readonly name: ScenarioName;
  /** Devices (`site/device`) simulated by this scenario's simulator instance. */
  readonly devices: readonly string[];
  /** Areas (`site/area`) whose area-level alarms (votes, composites) belong to this scenario. */
  readonly areas: readonly string[];
  readonly speed?: number;
  readonly expected: readonly string[];
  /** Expected model time of the last event (s after the simulators start). */
  readonly lastEventS: number;
};

const CASES: Record<ScenarioName, ScenarioCase> = {
  'chlorine-leak': {
    name: 'chlorine-leak',
    devices: areaDevices('bohai-chem', 'cl-a1').filter((k) => k !== LIGHTNING),
    areas: ['bohai-chem/cl-a1'],
    expected: [
      'raised limit:cl-gd-1:conc gas_l1 medium', // 29: GD-1 ≥ 1 mg/m3 for 2 s
      'raised limit:cl-gd-2:conc gas_l1 medium', // 34
      'raised limit:cl-gd-1:conc gas_l2 high', // 37
      'raised limit:cl-gd-3:conc gas_l1 medium', // 39
      'raised limit:cl-gd-2:conc gas_l2 high', // 42: second detector at level 2 …
      'raised vote:cl-a1 vote critical', // … trips the 2oo3 vote at once
      'raised limit:cl-gd-3:conc gas_l2 high', // 47
      // The plant demands both valves closed at 39 s (they stay `moving`; XV-2 samples 3 s earlier in its period):
      // 15 s of travel later each is in discrepancy (critical: demand closed) and stuck. XV-1 was already moving 10 s
      // after the first level 2, so the composite gas-valve-open:cl-a1 ("XV-1 still open") must not fire.
      'raised valve:cl-xv-2 discrepancy critical', // 55
      'raised valve:cl-xv-2 stuck high',
      'raised valve:cl-xv-1 discrepancy critical', // 58
      'raised valve:cl-xv-1 stuck high',
      'raised interlock:cl-a1[cl-xv-1] shutoff_failed critical', // 62: vote + 15 s travel + 5 s margin, valve by valve
      'raised interlock:cl-a1[cl-xv-2] shutoff_failed critical',
      // The valves report closed after twice their travel time: discrepancy and stuck clear, the trip is recorded,
      // the interlock alarm clears (and stays latched for reset).
      'cleared valve:cl-xv-2 stuck high', // 70
      'cleared valve:cl-xv-2 discrepancy critical',
      'raised valve:cl-xv-2 trip high',
      'cleared interlock:cl-a1[cl-xv-2] shutoff_failed critical',
      'cleared valve:cl-xv-1 stuck high', // 73
      'cleared valve:cl-xv-1 discrepancy critical',
      'raised valve:cl-xv-1 trip high',
      'cleared interlock:cl-a1[cl-xv-1] shutoff_failed critical',
    ],
    lastEventS: 73,
  },
  overfill: {
    name: 'overfill',
    devices: areaDevices('bohai-chem', 'nh-a1'),
    areas: ['bohai-chem/nh-a1'],
    speed: 3,
    expected: [
      // nh-tk-1: horizontal cylinder filled to at most 85 % of its volume = 79.2 % of its level, so HH 79.2 % and
      // H 74.2 %; its independent HH level switch (LSHH, 79.2 %) is the trip cause that closes inlet XV-1 (plant.yaml
      // causeAndEffect). It rises at 90 %/min and stays at 99 %. H before HH: H's on-delay never exceeds HH's
      // (docs/alarm-lifecycle.md, "On-delays").
      'raised overfill:nh-tk-1 overfill_predicted high', // 6 points in the trend window, HH < 30 min away
      'raised roc:nh-tk-1:level_pct roc_rise medium', // rate window spans 30 s, > 5 %/min
      'raised lshh:nh-tk-1 LSHH high', // the switch trips with the first sample ≥ 79.2 % (no delay)
      'raised limit:nh-tk-1:level_pct H medium', // ≥ 74.2 % for 10 s
      'raised limit:nh-tk-1:level_pct HH high', // ≥ 79.2 % for 10 s (the transmitter's alarm, not the trip)
      'raised hh-inlet-open:nh-tk-1 hh_inlet_open critical', // HH while inlet XV-1 reports open (composite, no delay)
      'raised hh-trip:nh-tk-1[nh-xv-1] shutoff_failed critical', // inlet valve still open 20 s after the LSHH trip
      'cleared roc:nh-tk-1:level_pct roc_rise medium', // level flat at 99 % for a window
    ],
    lastEventS: 102,
  },
  'valve-stuck': {
    name: 'valve-stuck',
    devices: areaDevices('nangang-petro', 'vc-a1'),
    areas: ['nangang-petro/vc-a1'],
    // vc-xv-1 demanded closed and moving for ever: after its 15 s travel time, discrepancy (critical: demand closed)
    // and stuck, from the same evaluation. Demand and position change in one message: no `uncommanded`.
    expected: ['raised valve:vc-xv-1 discrepancy critical', 'raised valve:vc-xv-1 stuck high'], // 34
    lastEventS: 34,
  },
  'detector-drift': {
    name: 'detector-drift',
    devices: areaDevices('wuqing-fine', 'hp-a1'),
    areas: ['wuqing-fine/hp-a1'],
    // hp-gd-1 (0–15 mg/m3) drifts down at 10 % FS/min: under range below −5 % of span (−0.75), low priority.
    expected: ['raised range:hp-gd-1:conc under_range low'], // 49
    lastEventS: 49,
  },
  'detector-fault': {
    name: 'detector-fault',
    devices: areaDevices('nangang-petro', 'bz-a1'),
    areas: ['nangang-petro/bz-a1'],
    // bz-gd-1 reports fault with bad quality (conc first in the message, so quality_bad first). One faulted
    // detector of three (faulted excluded: 2oo2 left) neither trips nor degrades vote:bz-a1.
    expected: ['raised quality:bz-gd-1 quality_bad medium', 'raised fault:bz-gd-1 detector_fault medium'], // 19
    lastEventS: 19,
  },
  'comms-loss': {
    name: 'comms-loss',
    devices: areaDevices('wuqing-fine', 'me-a1'),
    areas: ['wuqing-fine/me-a1'],
    expected: [
      // me-gd-1 drops its connection at 18.3 s (last reading 16.3 s); me-tk-1 stays connected but silent (last 16.4 s).
      'raised stale:me-gd-1 stale medium', // 26: 10 s without a reading (gas detectors)
      'raised offline:me-gd-1 offline medium', // 28: last will + 10 s
      'suppressed stale:me-gd-1 stale medium', // design suppression: stale is a consequence of offline
      'raised stale:me-tk-1 stale medium', // 31: 15 s without a reading (3 periods of 5 s)
      // One of three detectors lost in me-a1 (faulted excluded): no vote, no vote_degraded.
      'cleared offline:me-gd-1 offline medium', // 78: back on the network
      'unsuppressed stale:me-gd-1 stale medium',
      'cleared stale:me-gd-1 stale medium',
      'cleared stale:me-tk-1 stale medium', // 81
    ],
    lastEventS: 82,
  },
  'lightning-system-fault': {
    name: 'lightning-system-fault',
    devices: [LIGHTNING],
    areas: [],
    expected: ['raised system:cl-sys-lightning system_fault high'], // 20
    lastEventS: 20,
  },
};

const quiet: SimLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('simulator scenarios end to end (MQTT → rules → alarms → /ws)', () => {
  let server: ServerProcess;
  let recorder: AlarmEventRecorder;
  let token = '';
  let t0 = 0;
  const sims: RunningSimulators[] = [];

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    // No bundled simulators: every device is simulated below, by the instance running its scenario.
    server = await startServer({ env: { SIMULATE: 'false' } });
    token = server.tokens().operator ?? '';
    expect(token).not.toBe('');
    recorder = await AlarmEventRecorder.open(server.url, token);
    const covered = Object.values(CASES).flatMap((c) => c.devices);
    expect(new Set(covered).size).toBe(covered.length);
    expect(new Set(covered)).toEqual(new Set(demoPlant().deviceByKey.keys()));
    t0 = Date.now();
    const url = server.mqttUrl() as string;
    sims.push(
      ...(await Promise.all(
        Object.values(CASES).map((c) =>
          startSimulators({
            url,
            plant: demoPlant(),
            devices: c.devices,
            scenario: c.name,
            scenarioStartMs: SCENARIO_START_MS,
            ...(c.speed !== undefined ? { scenarioSpeed: c.speed } : {}),
            clientIdPrefix: `e2e-${c.name}`,
            ...server.mqttAuth(),
            logger: quiet,
          }),
        ),
      )),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all(sims.map((s) => s.stop()));
    recorder?.close();
    await server?.stop();
  });

  const owns = (c: ScenarioCase, e: AlarmEvent): boolean => {
    const owner = ownerKeyOf(e);
    return owner.device !== undefined ? c.devices.includes(owner.device) : c.areas.includes(owner.area);
  };
  const eventsOf = (c: ScenarioCase): AlarmEvent[] => recorder.events().filter((e) => owns(c, e));

  /** Waits for the scenario's expected number of events (until its last event is due + slack) and asserts the list. */
  const sequenceOf = async (c: ScenarioCase): Promise<AlarmEvent[]> => {
    const timeoutMs = Math.max(1_000, t0 + (c.lastEventS + WAIT_SLACK_S) * 1000 - Date.now());
    const events = await waitForCount(
      () => eventsOf(c),
      c.expected.length,
      timeoutMs,
      `${c.name}: ${c.expected.length} alarm events`,
    );
    expect(events.map(describeEvent)).toEqual(c.expected);
    return events;
  };

  /** Event time of the one event of `events` described by `line`. */
  const at = (events: readonly AlarmEvent[], line: string): number => {
    const found = events.filter((e) => describeEvent(e) === line);
    if (found.length !== 1) throw new Error(`expected exactly one '${line}', found ${found.length}`);
    return timeOf(found[0]!);
  };
  const eventOf = (events: readonly AlarmEvent[], line: string): AlarmEvent =>
    events.find((e) => describeEvent(e) === line)!;

  /** Stored samples of a channel, once history reaches `untilMs` (the writer batches, so wait for it). */
  const samples = async (key: string, channel: string, untilMs: number): Promise<Sample[]> =>
    waitForCount(
      async () => {
        const s = await storedSamples(server.url, token, key, channel, t0 - 1000);
        return s.length > 0 && s[s.length - 1]!.t >= untilMs ? s : [];
      },
      1,
      15_000,
      `stored ${key} ${channel} up to ${new Date(untilMs).toISOString()}`,
    ).then((s) => {
      if (s.length === 0)
        throw new Error(
          `stored history of ${key} ${channel} never reached ${new Date(untilMs).toISOString()}`,
        );
      return s;
    });

  it('should raise gas levels one by one, trip the vote, then valve and interlock alarms until the valves close late when chlorine leaks', async () => {
    const c = CASES['chlorine-leak'];
    const ev = await sequenceOf(c);
    const until = Math.max(...ev.map(timeOf));
    for (const id of ['cl-gd-1', 'cl-gd-2', 'cl-gd-3']) {
      const conc = await samples(`bohai-chem/${id}`, 'conc', until);
      expect(at(ev, `raised limit:${id}:conc gas_l1 medium`)).toBe(
        firstSample(conc, (v) => Number(v) >= 1, `${id} ≥ 1`) + 2_000,
      );
      expect(at(ev, `raised limit:${id}:conc gas_l2 high`)).toBe(
        firstSample(conc, (v) => Number(v) >= 2, `${id} ≥ 2`) + 2_000,
      );
    }
    const vote = at(ev, 'raised vote:cl-a1 vote critical');
    expect(vote).toBe(at(ev, 'raised limit:cl-gd-2:conc gas_l2 high'));
    expect(eventOf(ev, 'raised vote:cl-a1 vote critical')).toMatchObject({ value: 2, limit: 2 });
    for (const v of ['cl-xv-1', 'cl-xv-2']) {
      const demand = await samples(`bohai-chem/${v}`, 'demand', until);
      const position = await samples(`bohai-chem/${v}`, 'position', until);
      const demandClosed = firstSample(demand, (x) => x === 'closed', `${v} demand closed`);
      const closed = firstSample(position, (x) => x === 'closed', `${v} closed`);
      expect(closed - demandClosed).toBeGreaterThanOrEqual(2 * 15_000 - 5_000); // twice the travel time, sampled every 5 s
      expect(at(ev, `raised valve:${v} discrepancy critical`)).toBe(demandClosed + 15_000);
      expect(at(ev, `raised valve:${v} stuck high`)).toBe(demandClosed + 15_000);
      expect(at(ev, `raised interlock:cl-a1[${v}] shutoff_failed critical`)).toBe(vote + 20_000);
      for (const line of [
        `cleared valve:${v} stuck high`,
        `cleared valve:${v} discrepancy critical`,
        `raised valve:${v} trip high`,
        `cleared interlock:cl-a1[${v}] shutoff_failed critical`,
      ])
        expect(at(ev, line)).toBe(closed);
    }
  }, 200_000);

  it('should predict the overfill, alarm the rate, the HH switch, H before HH, HH with the inlet open (composite) and the failed trip in order when a tank overfills', async () => {
    const c = CASES.overfill;
    const ev = await sequenceOf(c);
    const level = await samples('bohai-chem/nh-tk-1', 'level_pct', Math.max(...ev.map(timeOf)));
    const sampleTimes = new Set(level.map((s) => s.t));
    const predicted = eventOf(ev, 'raised overfill:nh-tk-1 overfill_predicted high');
    expect(sampleTimes.has(timeOf(predicted))).toBe(true);
    expect(predicted.limit).toBe(30);
    expect(Number(predicted.value)).toBeLessThan(30); // minutes to HH
    const roc = eventOf(ev, 'raised roc:nh-tk-1:level_pct roc_rise medium');
    expect(sampleTimes.has(timeOf(roc))).toBe(true);
    expect(Number(roc.value)).toBeGreaterThan(5); // %/min
    const rocCleared = eventOf(ev, 'cleared roc:nh-tk-1:level_pct roc_rise medium');
    expect(Number(rocCleared.value)).toBeLessThanOrEqual(2.5); // half the limit
    // The limits follow the tank's filling limit (85 % of volume of a horizontal cylinder = 79.2 % of level).
    const atHH = firstSample(level, (v) => Number(v) >= 79.2, 'level ≥ 79.2 %');
    const lshh = at(ev, 'raised lshh:nh-tk-1 LSHH high');
    expect(lshh).toBe(atHH); // the switch sees the same liquid, reported in the same message, no delay
    const hh = at(ev, 'raised limit:nh-tk-1:level_pct HH high');
    expect(hh).toBe(atHH + 10_000);
    const h = at(ev, 'raised limit:nh-tk-1:level_pct H medium');
    expect(h).toBe(firstSample(level, (v) => Number(v) >= 74.2, 'level ≥ 74.2 %') + 10_000);
    expect(h).toBeLessThan(hh);
    // The trip is the independent switch: the valve deadline (15 s travel + 5 s) runs from it, not from the HH alarm.
    expect(at(ev, 'raised hh-trip:nh-tk-1[nh-xv-1] shutoff_failed critical')).toBe(lshh + 20_000);
  }, 200_000);

  it('should raise a critical discrepancy and stuck after the travel time when a valve sticks while closing', async () => {
    const ev = await sequenceOf(CASES['valve-stuck']);
    const demand = await samples('nangang-petro/vc-xv-1', 'demand', Math.max(...ev.map(timeOf)));
    const demandClosed = firstSample(demand, (x) => x === 'closed', 'vc-xv-1 demand closed');
    expect(at(ev, 'raised valve:vc-xv-1 discrepancy critical')).toBe(demandClosed + 15_000);
    expect(at(ev, 'raised valve:vc-xv-1 stuck high')).toBe(demandClosed + 15_000);
  }, 200_000);

  it('should raise a low under-range alarm and nothing else when a detector zero drifts down', async () => {
    const ev = await sequenceOf(CASES['detector-drift']);
    const conc = await samples('wuqing-fine/hp-gd-1', 'conc', Math.max(...ev.map(timeOf)));
    const under = eventOf(ev, 'raised range:hp-gd-1:conc under_range low');
    expect(timeOf(under)).toBe(firstSample(conc, (v) => Number(v) < -0.75, 'hp-gd-1 below −5 % of span'));
    expect(under.limit).toBeCloseTo(-0.75, 9);
  }, 200_000);

  it('should raise bad quality and detector fault but no vote when one detector faults', async () => {
    const ev = await sequenceOf(CASES['detector-fault']);
    const fault = await samples('nangang-petro/bz-gd-1', 'fault', Math.max(...ev.map(timeOf)));
    const faultAt = firstSample(fault, (v) => v === 1, 'bz-gd-1 fault');
    expect(at(ev, 'raised quality:bz-gd-1 quality_bad medium')).toBe(faultAt);
    expect(at(ev, 'raised fault:bz-gd-1 detector_fault medium')).toBe(faultAt);
  }, 200_000);

  it('should raise stale, then offline (suppressing stale), and clear both when a detector and a tank lose communication for a minute', async () => {
    const ev = await sequenceOf(CASES['comms-loss']);
    const until = Math.max(...ev.map(timeOf));
    // Stale and offline run on arrival time (the server's clock). Their exact delays (stale after max(3 × period,
    // 10 s), offline 10 s after the last will) are asserted in virtual time in src/rules/domain/engine.spec.ts; here,
    // on a wall clock that a loaded machine only ever makes late, each event is checked against its earliest
    // possible time and against the outage it belongs to. (−250 ms: sample times carry a few ms of timer jitter.)
    const notBefore = (actual: number, earliest: number): void =>
      expect(actual).toBeGreaterThanOrEqual(earliest - 250);
    const gd = longestGap(await samples('wuqing-fine/me-gd-1', 'conc', until));
    const tank = longestGap(await samples('wuqing-fine/me-tk-1', 'level_pct', until));
    notBefore(gd.after - gd.before, 60_000);
    notBefore(tank.after - tank.before, 60_000);
    const staleGd = at(ev, 'raised stale:me-gd-1 stale medium');
    const offlineGd = at(ev, 'raised offline:me-gd-1 offline medium');
    const staleTank = at(ev, 'raised stale:me-tk-1 stale medium');
    notBefore(staleGd, gd.before + 10_000);
    notBefore(offlineGd, gd.before + 2_000 + 10_000); // dropped at its next sample, then the offline on-delay
    notBefore(staleTank, tank.before + 15_000);
    // raised during the outage, cleared by the first reading after it
    expect(offlineGd).toBeGreaterThan(staleGd);
    expect(offlineGd).toBeLessThan(gd.after);
    expect(staleTank).toBeLessThan(tank.after);
    notBefore(at(ev, 'cleared offline:me-gd-1 offline medium'), gd.after);
    notBefore(at(ev, 'cleared stale:me-gd-1 stale medium'), gd.after);
    notBefore(at(ev, 'cleared stale:me-tk-1 stale medium'), tank.after);
  }, 200_000);

  it('should raise a high system fault when the lightning warning system faults', async () => {
    const ev = await sequenceOf(CASES['lightning-system-fault']);
    const status = await samples(LIGHTNING, 'status', Math.max(...ev.map(timeOf)));
    expect(at(ev, 'raised system:cl-sys-lightning system_fault high')).toBe(
      firstSample(status, (v) => v === 'fault', 'lightning fault'),
    );
  }, 200_000);

  it('should fire nothing more and nothing outside the scenarios when the plant has run on after the last event', async () => {
    // Let the last scenario (overfill) run on for two more tank samples after its last expected event.
    const last = Math.max(...eventsOf(CASES.overfill).map(timeOf));
    await samples('bohai-chem/nh-tk-1', 'level_pct', last + 10_000);
    for (const c of Object.values(CASES))
      expect({ scenario: c.name, events: eventsOf(c).map(describeEvent) }).toEqual({
        scenario: c.name,
        events: c.expected,
      });
    const strays = recorder.events().filter((e) => !Object.values(CASES).some((c) => owns(c, e)));
    expect(strays.map((e) => `${ownerKeyOf(e).area}: ${describeEvent(e)}`)).toEqual([]);
  }, 60_000);
});
