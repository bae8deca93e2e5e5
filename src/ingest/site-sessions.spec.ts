import { Subject } from 'rxjs';
import { settle } from '../common/testing/manual.scheduler';
import {
  displayFilters,
  siteClientId,
  siteFilters,
  SiteSessions,
  type SessionLink,
  type SiteOwnershipChange,
} from './site-sessions';

/** Per-site MQTT sessions follow ownership (docs/adr/0016-cluster.md, "Per-site MQTT sessions"). */
describe('SiteSessions', () => {
  type FakeLink = SessionLink & { site: string; unackedNow: number; ended: boolean; intakeStopped: boolean };

  function setup(opts: { sites?: string[]; ownedAtStart?: string[] } = {}) {
    const log: string[] = [];
    const ownership = new Subject<SiteOwnershipChange>();
    const links: FakeLink[] = [];
    let flushDone: (() => void) | undefined;
    let flushes = 0;
    const sessions = new SiteSessions({
      sites: opts.sites ?? ['a', 'b', 'c'],
      ownership: { ownership$: ownership, ownedKeys: () => opts.ownedAtStart ?? [] },
      open: (site) => {
        log.push(`open ${site}`);
        const l: FakeLink = {
          site,
          unackedNow: 0,
          ended: false,
          intakeStopped: false,
          get unacked() {
            return this.unackedNow;
          },
          stopIntake() {
            if (!this.intakeStopped) log.push(`stop ${site}`);
            this.intakeStopped = true;
          },
          async end() {
            log.push(`end ${site}`);
            this.ended = true;
          },
        };
        links.push(l);
        return l;
      },
      display: {
        subscribe: (f) => log.push(`display+ ${f.join(',')}`),
        unsubscribe: (f) => log.push(`display- ${f.join(',')}`),
      },
      flush: () => {
        flushes++;
        log.push('flush');
        return new Promise<void>((r) => (flushDone = r));
      },
    });
    const change = (key: string, owned: boolean, reason = owned ? 'acquired' : 'handover') =>
      ownership.next({ key, owned, reason });
    return {
      sessions,
      log,
      links,
      change,
      finishFlush: () => flushDone?.(),
      flushes: () => flushes,
    };
  }

  it('should name a site session by the shared base and subscribe only that site, QoS 1 filters', () => {
    expect(siteClientId('hw-x1', 'plant-7')).toBe('hw-x1-s-plant-7');
    expect(siteFilters('plant-7')).toEqual([
      'hazwatch/v1/plant-7/+/telemetry',
      'hazwatch/v1/plant-7/+/state',
    ]);
    expect(displayFilters('plant-7')).toEqual(['hazwatch/v1/plant-7/+/telemetry']);
  });

  it('should open the sessions of sites owned at start and show every other site on the display link', async () => {
    const t = setup({ ownedAtStart: ['b', 'job:retention'] });
    t.sessions.start();
    await settle();
    expect(t.log).toEqual([
      'display+ hazwatch/v1/a/+/telemetry',
      'display+ hazwatch/v1/b/+/telemetry',
      'display+ hazwatch/v1/c/+/telemetry',
      'display- hazwatch/v1/b/+/telemetry',
      'open b',
    ]);
    expect(t.sessions.ownedSites()).toEqual(['b']);
  });

  it('should open a site once on acquisition and ignore job leases and unknown keys', async () => {
    const t = setup();
    t.sessions.start();
    t.change('a', true);
    t.change('a', true);
    t.change('job:webhooks', true);
    t.change('zz', true);
    await settle();
    expect(t.log.filter((l) => l.startsWith('open'))).toEqual(['open a']);
    expect(t.sessions.owns('a')).toBe(true);
  });

  it('should stop reading at once on handover, close only after the writer committed its held messages, then show it again', async () => {
    const t = setup();
    t.sessions.start();
    t.change('a', true);
    await settle();
    t.links[0]!.unackedNow = 12;
    t.log.length = 0;
    t.change('a', false);
    await settle();
    // intake stopped synchronously, the close waits for the flush
    expect(t.log).toEqual(['stop a', 'flush']);
    expect(t.links[0]!.ended).toBe(false);
    t.links[0]!.unackedNow = 0;
    t.finishFlush();
    await settle();
    expect(t.log).toEqual(['stop a', 'flush', 'end a', 'display+ hazwatch/v1/a/+/telemetry']);
    expect(t.sessions.owns('a')).toBe(false);
  });

  it('should not flush when nothing is held', async () => {
    const t = setup();
    t.sessions.start();
    t.change('a', true);
    await settle();
    t.change('a', false, 'lost');
    await settle();
    expect(t.flushes()).toBe(0);
    expect(t.links[0]!.ended).toBe(true);
  });

  it('should reopen a site re-acquired while its close is pending only after the close (one holder of a client id)', async () => {
    const t = setup();
    t.sessions.start();
    t.change('a', true);
    await settle();
    t.links[0]!.unackedNow = 3;
    t.change('a', false);
    t.change('a', true);
    await settle();
    expect(t.log.filter((l) => /^(open|end)/.test(l))).toEqual(['open a']);
    t.finishFlush();
    await settle();
    expect(t.log.filter((l) => /^(open|end)/.test(l))).toEqual(['open a', 'end a', 'open a']);
    expect(t.links).toHaveLength(2);
    expect(t.sessions.owns('a')).toBe(true);
  });

  it('should skip an open whose ownership was lost again before it ran', async () => {
    const t = setup();
    t.sessions.start();
    t.change('a', true);
    t.change('a', false);
    await settle();
    // the open ran (the chain is in order), then the close: the site ends closed
    expect(t.sessions.owns('a')).toBe(false);
    expect(t.links.every((l) => l.ended)).toBe(true);
  });

  it('should stop every site on shutdown: intake first, one flush, then every session closes; no display resubscription', async () => {
    const t = setup();
    t.sessions.start();
    t.change('a', true);
    t.change('c', true);
    await settle();
    t.log.length = 0;
    const stopped = t.sessions.stop();
    await settle();
    expect(t.log).toEqual(['stop a', 'stop c', 'flush']);
    t.finishFlush();
    await stopped;
    expect(t.log).toEqual(['stop a', 'stop c', 'flush', 'end a', 'end c']);
    // ownership events after stop open nothing
    t.change('b', true);
    await settle();
    expect(t.links).toHaveLength(2);
  });
});
