import { capStatusFor, drillAt, foldDrills, type DrillEvent } from './drill-window';

const ev = (o: Partial<DrillEvent> & Pick<DrillEvent, 'drillId' | 'kind' | 'at'>): DrillEvent => ({
  siteId: 'bohai-chem',
  by: 'shift supervisor',
  role: 'supervisor',
  scenario: o.kind === 'started' ? '液氯泄漏演练' : null,
  ...o,
});

describe('declared drill windows', () => {
  const events = [
    ev({ drillId: 'd1', kind: 'started', at: 1000 }),
    ev({ drillId: 'd1', kind: 'ended', at: 5000, by: 'night supervisor' }),
    ev({ drillId: 'd2', kind: 'started', at: 9000 }),
    ev({ drillId: 'd3', kind: 'ended', at: 9500 }),
  ];

  it('should fold started and ended events into windows, open while not ended, with who started and ended them', () => {
    const w = foldDrills(events);
    expect(w).toEqual([
      expect.objectContaining({
        id: 'd1',
        startedAt: 1000,
        endedAt: 5000,
        startedBy: 'shift supervisor',
        endedBy: 'night supervisor',
        scenario: '液氯泄漏演练',
      }),
      expect.objectContaining({ id: 'd2', startedAt: 9000, endedAt: null, endedBy: null }),
    ]);
  });

  it('should never invent a window from an end without its start', () => {
    expect(foldDrills(events).map((w) => w.id)).not.toContain('d3');
  });

  it('should put an alarm inside a window of its own site only, bounds inclusive', () => {
    const w = foldDrills(events);
    expect(drillAt(w, 'bohai-chem', 999)).toBeNull();
    expect(drillAt(w, 'bohai-chem', 1000)?.id).toBe('d1');
    expect(drillAt(w, 'bohai-chem', 5000)?.id).toBe('d1');
    expect(drillAt(w, 'bohai-chem', 5001)).toBeNull();
    expect(drillAt(w, 'bohai-chem', 10_000_000)?.id).toBe('d2');
    expect(drillAt(w, 'nangang-petro', 3000)).toBeNull();
  });

  it('should send a drill alarm as Exercise where the feed says Actual, and never turn Test into anything else', () => {
    expect(capStatusFor('Actual', true)).toBe('Exercise');
    expect(capStatusFor('Actual', false)).toBe('Actual');
    expect(capStatusFor('Test', true)).toBe('Test');
  });
});
