import { NEVER } from 'rxjs';
import { ReplayTooLargeError } from '../alarms/alarm.errors';
import type { AlarmService } from '../alarms/alarm.service';
import type { Principal } from '../auth/principal';
import { indexPlant } from '../config/config.loader';
import type { AppConfig } from '../config/app-config';
import { alarmFeedFrom, plantScope } from './realtime.adapters';
import { ReplayGapError } from './realtime.ports';

const P: Principal = { tokenId: 't', name: 'n', role: 'operator', scope: '' };

const failingAlarms = (err: Error): AlarmService =>
  ({
    events$: NEVER,
    currentSeq: () => 7,
    eventsSince: () => Promise.reject(err),
  }) as unknown as AlarmService;

describe('alarmFeedFrom', () => {
  it('should turn a too-large replay into a ReplayGapError', async () => {
    await expect(
      alarmFeedFrom(failingAlarms(new ReplayTooLargeError(0, 10))).eventsSince(0, P),
    ).rejects.toBeInstanceOf(ReplayGapError);
  });

  it('should pass any other replay failure through unchanged', async () => {
    const boom = new Error('database down');
    await expect(alarmFeedFrom(failingAlarms(boom)).eventsSince(0, P)).rejects.toBe(boom);
  });

  it('should expose the current seq of the alarm service', () => {
    expect(alarmFeedFrom(failingAlarms(new Error('x'))).currentSeq()).toBe(7);
  });
});

describe('plantScope', () => {
  const site = (id: string, jurisdiction: string) => ({
    id,
    name: id,
    jurisdiction,
    location: { lat: 0, lon: 0 },
    hazardSources: [],
    devices: [],
  });
  const config = {
    plant: indexPlant({
      sites: [site('a', 'tianjin/binhai/x'), site('b', 'tianjin/wuqing/y')],
    }),
  } as unknown as AppConfig;

  it('should let an admin see every site whatever its scope says', () => {
    expect(
      [...plantScope(config).visibleSiteIds({ ...P, role: 'admin', scope: 'tianjin/binhai' })].sort(),
    ).toEqual(['a', 'b']);
  });

  it('should limit a regulator to its jurisdiction prefix', () => {
    expect([
      ...plantScope(config).visibleSiteIds({ ...P, role: 'regulator', scope: 'tianjin/binhai' }),
    ]).toEqual(['a']);
  });
});
