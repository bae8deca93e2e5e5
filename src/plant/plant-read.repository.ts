import { Injectable } from '@nestjs/common';
import {
  OBLIGATION_COLUMNS,
  toObligation,
  type Obligation,
  type ObligationRow,
} from '../regulator/disposal.repository';
import { Database } from '../storage/database.service';

const OBLIGATIONS_OF_SITES = `SELECT ${OBLIGATION_COLUMNS} FROM disposal_obligation
WHERE ($1::text[] IS NULL OR site_id = ANY($1)) AND (status <> 'accepted' OR closed_at > $2) ORDER BY raised_at DESC LIMIT 1000`;

/** Read-only queries of the plant read API (the regulator overview's disposal counts). */
@Injectable()
export class PlantReadRepository {
  constructor(private readonly db: Database) {}

  /** Open obligations (and those closed since `closedSince`) of the given sites. */
  async obligations(siteIds: readonly string[] | undefined, closedSince: number): Promise<Obligation[]> {
    return (
      await this.db.query<ObligationRow>(OBLIGATIONS_OF_SITES, [siteIds ?? null, new Date(closedSince)])
    ).rows.map(toObligation);
  }
}
