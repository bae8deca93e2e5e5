import { JsonLogger } from '../common/logger';
import { prepareTimescale } from './migration.runner';
import {
  FACTS_SQL,
  HYPERTABLE_SQL,
  TimescaleRequiredError,
  TimescaleStateError,
  decideTimescale,
  parseTimescaleMode,
  readTimescaleFacts,
  type SqlClient,
  type TimescaleFacts,
} from './timescale-detect';

/** Catalogue answers without TimescaleDB: the double answers the two detection queries and records set_config. */
class CatalogueDouble implements SqlClient {
  readonly statements: Array<{ text: string; params?: unknown[] }> = [];
  constructor(
    private readonly facts: {
      available: boolean;
      created_version: string | null;
      preloaded: boolean;
      can_create: boolean;
      telemetry_exists: boolean;
    },
    private readonly hypertable = false,
  ) {}
  query<R>(text: string, params?: unknown[]): Promise<{ rows: R[] }> {
    this.statements.push({ text, ...(params ? { params } : {}) });
    if (text === FACTS_SQL) return Promise.resolve({ rows: [this.facts as R] });
    if (text === HYPERTABLE_SQL) {
      // the real catalogue schema exists only with the extension: the query would fail without it
      if (this.facts.created_version === null)
        return Promise.reject(new Error('schema "_timescaledb_catalog" does not exist'));
      return Promise.resolve({ rows: [{ hypertable: this.hypertable } as R] });
    }
    if (text.startsWith('SELECT set_config')) return Promise.resolve({ rows: [] });
    return Promise.reject(new Error(`unexpected statement: ${text}`));
  }
  setting(): unknown {
    return this.statements.find((s) => s.text.startsWith('SELECT set_config'))?.params;
  }
}

const fresh = (over: Partial<TimescaleFacts> = {}): TimescaleFacts => ({
  available: true,
  createdVersion: null,
  preloaded: true,
  canCreate: true,
  telemetryExists: false,
  hypertable: false,
  ...over,
});

describe('TimescaleDB detection', () => {
  it('should use TimescaleDB on a fresh database where it is installed, preloaded and creatable', () => {
    expect(decideTimescale('auto', fresh())).toMatchObject({ use: true });
    expect(decideTimescale('require', fresh())).toMatchObject({ use: true });
    expect(decideTimescale('auto', fresh({ canCreate: false, createdVersion: '2.17.2' }))).toMatchObject({
      use: true,
    });
  });

  it('should fall back with one warning naming shared_preload_libraries when the package is installed but not preloaded', () => {
    const d = decideTimescale('auto', fresh({ preloaded: false }));
    expect(d.use).toBe(false);
    expect(d.warning).toMatch(/shared_preload_libraries/);
    expect(d.warning).toMatch(/TIMESCALE=require/);
  });

  it('should fall back with a warning naming GRANT CREATE when the role may not create the extension', () => {
    const d = decideTimescale('auto', fresh({ canCreate: false }));
    expect(d.use).toBe(false);
    expect(d.warning).toMatch(/GRANT CREATE ON DATABASE/);
  });

  it('should take the plain path without a warning where TimescaleDB is not installed, or TIMESCALE=off', () => {
    expect(decideTimescale('auto', fresh({ available: false, preloaded: false }))).toEqual({
      use: false,
      reason: 'TimescaleDB is not installed: plain PostgreSQL path',
    });
    expect(decideTimescale('auto', fresh({ available: false }))).not.toHaveProperty('warning');
    expect(decideTimescale('off', fresh())).toEqual({ use: false, reason: 'TIMESCALE=off' });
  });

  it('should stop start-up with the reason when TIMESCALE=require and TimescaleDB cannot be used', () => {
    expect(() => decideTimescale('require', fresh({ preloaded: false }))).toThrow(TimescaleRequiredError);
    expect(() => decideTimescale('require', fresh({ preloaded: false }))).toThrow(/shared_preload_libraries/);
    expect(() => decideTimescale('require', fresh({ canCreate: false }))).toThrow(/GRANT CREATE/);
    expect(() => decideTimescale('require', fresh({ available: false }))).toThrow(/not installed/);
  });

  it('should keep a plain-path database plain when the extension is created later (partitions and retention go on)', () => {
    const d = decideTimescale('auto', fresh({ telemetryExists: true, createdVersion: '2.17.2' }));
    expect(d.use).toBe(false);
    expect(d.reason).toMatch(/created later/);
    expect(() => decideTimescale('require', fresh({ telemetryExists: true }))).toThrow(
      /plain PostgreSQL path/,
    );
  });

  it('should keep a hypertable on TimescaleDB, and stop clearly when it cannot be served', () => {
    const ht = fresh({ telemetryExists: true, createdVersion: '2.17.2', hypertable: true });
    expect(decideTimescale('auto', ht).use).toBe(true);
    expect(() => decideTimescale('off', ht)).toThrow(TimescaleStateError);
    expect(() => decideTimescale('auto', { ...ht, preloaded: false })).toThrow(/not preloaded/);
  });

  it('should parse TIMESCALE and refuse other values', () => {
    expect(parseTimescaleMode(undefined)).toBe('auto');
    expect(parseTimescaleMode(' Require ')).toBe('require');
    expect(() => parseTimescaleMode('yes')).toThrow(/auto, require, off/);
  });

  describe('through the catalogue (SQL client double)', () => {
    const log = new JsonLogger('test.timescale');
    let warn: jest.SpyInstance;
    beforeEach(() => {
      warn = jest.spyOn(log, 'warn').mockImplementation(() => undefined);
    });
    afterEach(() => warn.mockRestore());

    it('installed but not preloaded: the migrations are told "off" and one warning is logged', async () => {
      const c = new CatalogueDouble({
        available: true,
        created_version: null,
        preloaded: false,
        can_create: true,
        telemetry_exists: false,
      });
      const d = await prepareTimescale(c, 'auto', log);
      expect(d.use).toBe(false);
      expect(c.setting()).toEqual(['hazwatch.timescale', 'off']);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/shared_preload_libraries/);
      // the hypertable query is never sent without the extension (its schema would not exist)
      expect(c.statements.some((s) => s.text === HYPERTABLE_SQL)).toBe(false);
    });

    it('a role without CREATE on the database: "off" and a warning naming the grant', async () => {
      const c = new CatalogueDouble({
        available: true,
        created_version: null,
        preloaded: true,
        can_create: false,
        telemetry_exists: false,
      });
      const d = await prepareTimescale(c, 'auto', log);
      expect(d.use).toBe(false);
      expect(c.setting()).toEqual(['hazwatch.timescale', 'off']);
      expect(String(warn.mock.calls[0]![0])).toMatch(/GRANT CREATE/);
    });

    it('TIMESCALE=require with the library not preloaded: throws before any migration setting is made', async () => {
      const c = new CatalogueDouble({
        available: true,
        created_version: null,
        preloaded: false,
        can_create: true,
        telemetry_exists: false,
      });
      await expect(prepareTimescale(c, 'require', log)).rejects.toThrow(TimescaleRequiredError);
      expect(c.setting()).toBeUndefined();
    });

    it('an established hypertable: "on"; the extension created later over a plain telemetry: "off"', async () => {
      const ht = new CatalogueDouble(
        {
          available: true,
          created_version: '2.17.2',
          preloaded: true,
          can_create: false,
          telemetry_exists: true,
        },
        true,
      );
      expect((await prepareTimescale(ht, 'auto', log)).use).toBe(true);
      expect(ht.setting()).toEqual(['hazwatch.timescale', 'on']);
      const later = new CatalogueDouble(
        {
          available: true,
          created_version: '2.17.2',
          preloaded: true,
          can_create: true,
          telemetry_exists: true,
        },
        false,
      );
      expect(await readTimescaleFacts(later)).toMatchObject({ hypertable: false, createdVersion: '2.17.2' });
      expect((await prepareTimescale(later, 'auto', log)).use).toBe(false);
      expect(later.setting()).toEqual(['hazwatch.timescale', 'off']);
      expect(warn).not.toHaveBeenCalled();
    });
  });
});
