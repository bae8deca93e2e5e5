/**
 * Latest wind per site from its weather station (kind `weather`), attached to the alarms raised at that site so a
 * responder sees where a release drifts (docs/plant-model.md). Pure: fed readings, asked at raise time.
 */
import type { Reading } from '../../common/types';

export type SiteWeather = {
  readonly windSpeedMs?: number;
  /** Direction the wind blows from, degrees (0 = north, 90 = east). */
  readonly windDirDeg?: number;
  /** Event time of the newest of the two, epoch ms. */
  readonly ts: number;
};

/** Wind older than this is not attached (an old wind direction misleads more than none). */
export const WEATHER_MAX_AGE_MS = 10 * 60_000;

const COMPASS = ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW'] as const;

export class WeatherBook {
  private readonly bySite = new Map<string, { speed?: number; dir?: number; ts: number }>();

  /** Takes a wind_speed_ms / wind_dir_deg reading of a weather station (others are ignored). */
  update(r: Reading): void {
    if (r.quality === 'bad' || typeof r.value !== 'number' || !Number.isFinite(r.value)) return;
    if (r.channel !== 'wind_speed_ms' && r.channel !== 'wind_dir_deg') return;
    let w = this.bySite.get(r.siteId);
    if (!w) this.bySite.set(r.siteId, (w = { ts: r.ts }));
    if (r.channel === 'wind_speed_ms') w.speed = r.value;
    else w.dir = ((r.value % 360) + 360) % 360;
    w.ts = Math.max(w.ts, r.ts);
  }

  /** The site's wind at `now`, or undefined when none is known or it is older than WEATHER_MAX_AGE_MS. */
  at(siteId: string, now: number): SiteWeather | undefined {
    const w = this.bySite.get(siteId);
    if (!w || now - w.ts > WEATHER_MAX_AGE_MS) return undefined;
    return {
      ...(w.speed !== undefined ? { windSpeedMs: w.speed } : {}),
      ...(w.dir !== undefined ? { windDirDeg: w.dir } : {}),
      ts: w.ts,
    };
  }
}

/** "wind 3.2 m/s from SE (135°)": the short suffix added to an alarm's message. */
export function describeWind(w: SiteWeather): string {
  const parts: string[] = [];
  if (w.windSpeedMs !== undefined) parts.push(`${w.windSpeedMs.toFixed(1)} m/s`);
  if (w.windDirDeg !== undefined)
    parts.push(`from ${COMPASS[Math.round(w.windDirDeg / 45) % 8]} (${Math.round(w.windDirDeg)}°)`);
  return `wind ${parts.join(' ')}`;
}
