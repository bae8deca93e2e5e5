import {
  bestZeroLossRate,
  formatTable,
  highestSustained,
  maxDrainS,
  verdict,
  type StepResult,
} from './bench.report';

const step = (over: Partial<StepResult>): StepResult => {
  const base = {
    targetRate: 10_000,
    seconds: 60,
    sent: 600_000,
    achievedRate: 10_000,
    publisherCpuPct: 20,
    publisherBlockedPct: 0,
    expectedRows: 1_200_000,
    storedRows: 1_200_000,
    lostRows: 0,
    duplicateRows: 0,
    countMethod: 'sql' as const,
    drainS: 0.5,
    drainTimedOut: false,
    storedRate: 9_900,
    rowsPerS: 19_800,
    latencyP50Ms: 60,
    latencyP99Ms: 240,
    latencyP99Overflow: false,
    serverCpuPct: 80,
    serverTreeCpuPct: 120,
    serverRssMaxMb: 200,
    serverTreeRssMaxMb: 400,
    machineCpuPct: 70,
    maxQueueDepth: 1000,
    rejectedMessages: 0,
    ...over,
  };
  return { ...base, ...verdict(base) };
};

describe('verdict', () => {
  it('should call a step sustained when nothing is lost and the backlog drains quickly', () => {
    expect(step({}).sustained).toBe(true);
    expect(step({}).verdict).toBe('ok');
  });

  it('should fail a step that lost rows, naming how many', () => {
    expect(step({ storedRows: 1_199_990, lostRows: 10 })).toMatchObject({
      sustained: false,
      verdict: 'LOSS: 10 rows missing',
    });
  });

  it('should fail a step whose drain timed out', () => {
    expect(step({ drainTimedOut: true, lostRows: 5 })).toMatchObject({
      sustained: false,
      verdict: expect.stringMatching(/^drain timed out: 5 rows/),
    });
  });

  it('should fail a step when the publisher missed the target or the server fell behind', () => {
    expect(step({ achievedRate: 9_000 }).verdict).toMatch(/publisher reached only 9000/);
    expect(step({ achievedRate: 9_000, publisherBlockedPct: 40 }).verdict).toMatch(
      /back-pressure: broker\/server took only 9000 msg\/s \(publisher blocked 40 %/,
    );
    expect(step({ drainS: maxDrainS(60) + 0.1 }).verdict).toMatch(/server fell behind/);
  });

  it('should fail a step with rejected messages', () => {
    expect(step({ rejectedMessages: 2 }).verdict).toBe('2 messages rejected');
  });

  it('should allow at least 2 s of drain for short steps', () => {
    expect(maxDrainS(5)).toBe(2);
    expect(maxDrainS(60)).toBe(3);
  });
});

describe('highestSustained', () => {
  it('should pick the highest sustained target and ignore failed ones', () => {
    const steps = [10_000, 50_000, 75_000].map((r) =>
      step({ targetRate: r, achievedRate: r, lostRows: r === 75_000 ? 3 : 0 }),
    );
    expect(highestSustained(steps)?.targetRate).toBe(50_000);
    expect(highestSustained([steps[2]!])).toBeNull();
  });
});

describe('bestZeroLossRate', () => {
  it('should pick the highest stored rate among steps without loss, even when back-pressured', () => {
    const steps = [
      step({ targetRate: 10_000, storedRate: 9_800 }),
      step({ targetRate: 25_000, achievedRate: 16_000, storedRate: 15_500, publisherBlockedPct: 95 }),
      step({ targetRate: 50_000, achievedRate: 50_000, storedRate: 20_000, lostRows: 1 }),
    ];
    expect(steps[1]!.sustained).toBe(false);
    expect(bestZeroLossRate(steps)?.storedRate).toBe(15_500);
    expect(bestZeroLossRate([steps[2]!])).toBeNull();
  });
});

describe('formatTable', () => {
  it('should print one aligned line per step with the verdict last', () => {
    const table = formatTable([
      step({}),
      step({ targetRate: 75_000, latencyP99Ms: 5000, latencyP99Overflow: true }),
    ]).split('\n');
    expect(table).toHaveLength(4);
    expect(table[0]).toMatch(/^target msg\/s/);
    expect(table[2]).toMatch(/^\s+10,000\s+10,000\b.*\bok$/);
    expect(table[3]).toContain('>5,000.0');
  });
});
