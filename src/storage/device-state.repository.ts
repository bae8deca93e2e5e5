import { JsonLogger } from '../common/logger';
import type { DeviceState } from '../common/types';
import type { Database } from './database.service';

export type DeviceStateRow = {
  siteId: string;
  deviceId: string;
  state: DeviceState;
  /** Epoch ms of the last online/offline transition, if known. */
  stateChangedAt: number | null;
  /** Epoch ms the device was last heard (telemetry or state), if ever. */
  lastSeen: number | null;
};

/** Batched multi-row upsert; last_seen never moves backwards. */
const UPSERT = `
  INSERT INTO device_state (site_id, device_id, state, state_changed_at, last_seen)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
  ON CONFLICT (site_id, device_id) DO UPDATE SET
    state = EXCLUDED.state,
    state_changed_at = COALESCE(EXCLUDED.state_changed_at, device_state.state_changed_at),
    last_seen = GREATEST(device_state.last_seen, EXCLUDED.last_seen)`;

const LOAD_ALL = `SELECT site_id, device_id, state, state_changed_at, last_seen FROM device_state`;

type Row = {
  site_id: string;
  device_id: string;
  state: string;
  state_changed_at: Date | null;
  last_seen: Date | null;
};

const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

export class DeviceStateRepository {
  constructor(
    private readonly db: Pick<Database, 'query'>,
    private readonly log = new JsonLogger('storage.device-state'),
  ) {}

  /** One statement for all rows; a later row for the same device wins. */
  async upsertMany(rows: readonly DeviceStateRow[]): Promise<void> {
    if (rows.length === 0) return;
    // ON CONFLICT cannot touch the same row twice in one statement: keep the last row per device.
    const byKey = new Map<string, DeviceStateRow>();
    for (const r of rows) byKey.set(`${r.siteId}/${r.deviceId}`, r);
    const list = [...byKey.values()];
    await this.db.query(UPSERT, [
      list.map((r) => r.siteId),
      list.map((r) => r.deviceId),
      list.map((r) => r.state),
      list.map((r) => toDate(r.stateChangedAt)),
      list.map((r) => toDate(r.lastSeen)),
    ]);
  }

  async loadAll(): Promise<DeviceStateRow[]> {
    const r = await this.db.query<Row>(LOAD_ALL);
    const out: DeviceStateRow[] = [];
    for (const row of r.rows) {
      if (row.state !== 'online' && row.state !== 'offline') {
        this.log.warn('device_state row with an unknown state ignored', {
          siteId: row.site_id,
          deviceId: row.device_id,
          state: row.state,
        });
        continue;
      }
      out.push({
        siteId: row.site_id,
        deviceId: row.device_id,
        state: row.state,
        stateChangedAt: row.state_changed_at?.getTime() ?? null,
        lastSeen: row.last_seen?.getTime() ?? null,
      });
    }
    return out;
  }
}
