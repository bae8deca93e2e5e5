import { groupBy, mergeMap, of, map, toArray, lastValueFrom } from 'rxjs';
import { GroupSubject } from './group-subject';

describe('GroupSubject', () => {
  it('should deliver to its one subscriber, stop after unsubscribe, and refuse a second subscriber', () => {
    const s = new GroupSubject<number>();
    const got: number[] = [];
    const sub = s.subscribe({ next: (v) => got.push(v) });
    s.next(1);
    s.next(2);
    expect(() => s.subscribe({ next: () => undefined })).toThrow(/one subscriber/);
    sub.unsubscribe();
    s.next(3);
    expect(got).toEqual([1, 2]);
  });

  it('should pass completion and errors on once, and replay them to a late subscriber', () => {
    const done: string[] = [];
    const a = new GroupSubject<number>();
    a.subscribe({ complete: () => done.push('a-complete') });
    a.complete();
    a.complete();
    a.subscribe({ complete: () => done.push('a-late-complete') });
    const b = new GroupSubject<number>();
    b.subscribe({ error: (e) => done.push(`b-${String(e)}`) });
    b.error('boom');
    b.next(1);
    b.subscribe({ error: (e) => done.push(`b-late-${String(e)}`) });
    expect(done).toEqual(['a-complete', 'a-late-complete', 'b-boom', 'b-late-boom']);
  });

  it('should work as the connector of rxjs groupBy: same groups and order as the default Subject', async () => {
    const input = [1, 2, 3, 4, 5, 6, 7];
    const run = (connector?: () => GroupSubject<number>) =>
      lastValueFrom(
        of(...input).pipe(
          groupBy((v) => v % 3, connector ? { connector } : {}),
          mergeMap((g) => g.pipe(map((v) => `${g.key}:${v}`))),
          toArray(),
        ),
      );
    await expect(run(() => new GroupSubject<number>())).resolves.toEqual(await run());
  });
});
