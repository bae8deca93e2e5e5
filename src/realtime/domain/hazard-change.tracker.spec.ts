import { HazardChangeTracker } from './hazard-change.tracker';

describe('HazardChangeTracker', () => {
  it('should report the first status of a source as a change', () => {
    expect(new HazardChangeTracker().changed({ sourceId: 'a', grade: 2, level: 'orange' })).toBe(true);
  });

  it('should not report a recomputed status when grade and level are unchanged', () => {
    const t = new HazardChangeTracker();
    t.changed({ sourceId: 'a', grade: 2, level: 'orange' });
    expect(t.changed({ sourceId: 'a', grade: 2, level: 'orange' })).toBe(false);
  });

  it('should report a change when the grade moves', () => {
    const t = new HazardChangeTracker();
    t.changed({ sourceId: 'a', grade: 2, level: 'orange' });
    expect(t.changed({ sourceId: 'a', grade: 1, level: 'red' })).toBe(true);
  });

  it('should track sources independently', () => {
    const t = new HazardChangeTracker();
    t.changed({ sourceId: 'a', grade: 2, level: 'orange' });
    expect(t.changed({ sourceId: 'b', grade: 2, level: 'orange' })).toBe(true);
  });
});
