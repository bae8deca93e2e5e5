import { Inject, Injectable } from '@nestjs/common';
import type { QueryResult, QueryResultRow } from 'pg';
import type { TxClient } from '../storage/database.service';
import { drillAt, foldDrills, type DrillEvent, type DrillWindow } from './domain/drill-window';

/** The slice of storage's `Database` the drill repository uses. */
export type DrillSql = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
  withTransaction<T>(fn: (tx: TxClient) => Promise<T>): Promise<T>;
};
export const DRILL_SQL = Symbol('DRILL_SQL');

type Row = {
  drill_id: string;
  site_id: string;
  kind: 'started' | 'ended';
  at: Date;
  by_name: string;
  by_role: string;
  scenario: string | null;
};

const toEvent = (r: Row): DrillEvent => ({
  drillId: r.drill_id,
  siteId: r.site_id,
  kind: r.kind,
  at: new Date(r.at).getTime(),
  by: r.by_name,
  role: r.by_role,
  scenario: r.scenario,
});

export class DrillConflictError extends Error {}

/** site_drill_event (append-only): one `started` and at most one `ended` row per drill; one open drill per site. */
@Injectable()
export class DrillRepository {
  constructor(@Inject(DRILL_SQL) private readonly sql: DrillSql) {}

  private async eventsOf(
    q: DrillSql | TxClient,
    siteIds: readonly string[],
    since: number,
  ): Promise<DrillEvent[]> {
    // every event of drills started since `since` or still open
    const r = await q.query<Row>(
      `SELECT drill_id, site_id, kind, at, by_name, by_role, scenario FROM site_drill_event
        WHERE site_id = ANY($1::text[])
          AND drill_id IN (SELECT drill_id FROM site_drill_event s WHERE s.site_id = ANY($1::text[]) AND s.kind = 'started'
                            AND (s.at >= $2 OR NOT EXISTS (SELECT 1 FROM site_drill_event e
                                                            WHERE e.drill_id = s.drill_id AND e.kind = 'ended')))
        ORDER BY seq`,
      [siteIds, new Date(since)],
    );
    return r.rows.map(toEvent);
  }

  /** Drills of these sites started since `since`, and any still running. */
  async windows(siteIds: readonly string[], since: number): Promise<DrillWindow[]> {
    if (siteIds.length === 0) return [];
    return foldDrills(await this.eventsOf(this.sql, siteIds, since));
  }

  /** The drill of the site running at `t`, from the durable record (every node of a cluster sees the same). */
  async drillAt(siteId: string, t: number): Promise<DrillWindow | null> {
    const r = await this.sql.query<Row>(
      `SELECT drill_id, site_id, kind, at, by_name, by_role, scenario FROM site_drill_event
        WHERE drill_id IN (SELECT drill_id FROM site_drill_event WHERE site_id = $1 AND kind = 'started' AND at <= $2)
        ORDER BY seq`,
      [siteId, new Date(t)],
    );
    return drillAt(foldDrills(r.rows.map(toEvent)), siteId, t);
  }

  /** Starts a drill; DrillConflictError when one is already running for the site. */
  async start(e: Omit<DrillEvent, 'kind'>): Promise<DrillWindow> {
    return this.sql.withTransaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('hazwatch:drill:' || $1))`, [e.siteId]);
      const open = foldDrills(await this.eventsOf(tx, [e.siteId], e.at)).find((w) => w.endedAt === null);
      if (open)
        throw new DrillConflictError(
          `a drill of ${e.siteId} is already running (started by ${open.startedBy} at ${new Date(open.startedAt).toISOString()})`,
        );
      await tx.query(
        `INSERT INTO site_drill_event (drill_id, site_id, kind, at, by_name, by_role, scenario)
         VALUES ($1, $2, 'started', $3, $4, $5, $6)`,
        [e.drillId, e.siteId, new Date(e.at), e.by, e.role, e.scenario],
      );
      return {
        id: e.drillId,
        siteId: e.siteId,
        scenario: e.scenario ?? '',
        startedAt: e.at,
        startedBy: e.by,
        endedAt: null,
        endedBy: null,
      };
    });
  }

  /** Ends the running drill of the site; null when none is running. */
  async end(siteId: string, at: number, by: string, role: string): Promise<DrillWindow | null> {
    return this.sql.withTransaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('hazwatch:drill:' || $1))`, [siteId]);
      const open = foldDrills(await this.eventsOf(tx, [siteId], at)).find((w) => w.endedAt === null);
      if (!open) return null;
      const endedAt = Math.max(at, open.startedAt);
      await tx.query(
        `INSERT INTO site_drill_event (drill_id, site_id, kind, at, by_name, by_role)
         VALUES ($1, $2, 'ended', $3, $4, $5)`,
        [open.id, siteId, new Date(endedAt), by, role],
      );
      return { ...open, endedAt, endedBy: by };
    });
  }
}
