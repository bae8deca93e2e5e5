import { IngestService } from './ingest.service';

/** Shutdown must never hang on the MQTT client, whatever the broker does (docs/adr/0008-ack-after-commit.md). */
describe('IngestService.disconnect', () => {
  type EndCall = { force: boolean; cb: () => void };
  const fakeClient = (answersGracefulEnd: boolean) => {
    const ends: EndCall[] = [];
    const published: string[] = [];
    const client = {
      publish: (topic: string) => {
        published.push(topic);
        return client;
      },
      end: (force: boolean, _opts: object, cb: () => void) => {
        ends.push({ force, cb });
        // A graceful end completes only when the broker acknowledges what is in flight; a forced one at once.
        if (force || answersGracefulEnd) cb();
        return client;
      },
    };
    return { client, ends, published };
  };

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('should force the end at once and publish nothing when the broker is not connected', async () => {
    const f = fakeClient(false);
    await IngestService.disconnect(f.client as never, false, 'hazwatch/server/x/status');
    expect(f.ends.map((e) => e.force)).toEqual([true]);
    expect(f.published).toEqual([]);
  });

  it('should announce offline and end gracefully when connected and the broker answers', async () => {
    const f = fakeClient(true);
    await IngestService.disconnect(f.client as never, true, 'hazwatch/server/x/status');
    expect(f.published).toEqual(['hazwatch/server/x/status']);
    expect(f.ends.map((e) => e.force)).toEqual([false]);
  });

  it('should force the end after the grace period when the broker never acknowledges', async () => {
    const f = fakeClient(false);
    let done = false;
    const p = IngestService.disconnect(f.client as never, true, 'hazwatch/server/x/status').then(
      () => (done = true),
    );
    await Promise.resolve();
    expect(done).toBe(false);
    jest.advanceTimersByTime(5000);
    await p;
    expect(f.ends.map((e) => e.force)).toEqual([false, true]);
  });
});
