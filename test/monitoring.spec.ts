import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { HazwatchMetrics } from '../src/metrics/metrics.registry';

/**
 * The monitoring bundle shipped in docker/ (Prometheus rules, Grafana dashboards) must speak about metrics and tables
 * that exist: a renamed metric would otherwise silently blank a panel or disarm an alert.
 */
const ROOT = join(__dirname, '..');
const PROM_DIR = join(ROOT, 'docker', 'prometheus');
const DASH_DIR = join(ROOT, 'docker', 'grafana', 'dashboards');
/** Tables and views dashboards may read (the public data of docs/contract.md §5, plus device_state). */
const PUBLIC_TABLES = new Set(['telemetry', 'telemetry_1m', 'device_state']);

type Panel = {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Array<{ expr?: string; rawSql?: string }>;
};
type Dashboard = {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list: Array<{ query?: string }> };
};

function definedMetricNames(): Set<string> {
  const metrics = new HazwatchMetrics(false);
  const names = new Set<string>();
  for (const m of metrics.registry.getMetricsAsArray()) names.add(m.name);
  return names;
}

/** hazwatch_* names used in a PromQL expression, with histogram suffixes mapped to the histogram's name. */
function metricNamesIn(expr: string): string[] {
  return [...expr.matchAll(/\bhazwatch_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

function tablesIn(sql: string): string[] {
  return [...sql.matchAll(/\b(?:FROM|JOIN)\s+([a-z_0-9.]+)/gi)].map((m) => m[1]!.toLowerCase());
}

function dashboards(): Dashboard[] {
  return readdirSync(DASH_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(DASH_DIR, f), 'utf8')) as Dashboard);
}

const alertRules = (): Array<{ alert: string; expr: string }> =>
  (
    parse(readFileSync(join(PROM_DIR, 'alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    }
  ).groups.flatMap((g) => g.rules);

describe('monitoring bundle (docker/prometheus, docker/grafana)', () => {
  const defined = definedMetricNames();

  it('should alert only on metrics the server defines', () => {
    const rules = alertRules();
    expect(rules.length).toBeGreaterThanOrEqual(10);
    const unknown = rules.flatMap((r) =>
      metricNamesIn(r.expr)
        .filter((n) => !defined.has(n))
        .map((n) => `${r.alert}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('should cover the failures an operator of the server must hear about', () => {
    const names = alertRules().map((r) => r.alert);
    for (const a of [
      'HazwatchMqttDisconnected',
      'HazwatchDatabaseDown',
      'HazwatchWriterLag',
      'HazwatchSpoolFilling',
      'HazwatchMqttSessionTakeover',
      'HazwatchWebhookBacklog',
      'HazwatchAlarmsPendingWrites',
      'HazwatchBrokerDroppedMessages',
      'HazwatchSiteNoData',
      'HazwatchJournalVerifyFailed',
      'HazwatchTimescaleJobFailing',
    ]) {
      expect(names).toContain(a);
    }
  });

  it('should give every dashboard panel a provisioned data source and only defined metrics or public tables', () => {
    const ds = parse(
      readFileSync(join(ROOT, 'docker', 'grafana', 'provisioning', 'datasources', 'hazwatch.yml'), 'utf8'),
    ) as { datasources: Array<{ uid: string }> };
    const uids = new Set(ds.datasources.map((d) => d.uid));
    const all = dashboards();
    expect(all.map((d) => d.uid).sort()).toEqual(['hazwatch-device-trend', 'hazwatch-server']);
    const problems: string[] = [];
    for (const d of all) {
      const sqls = (d.templating?.list ?? []).map((v) => v.query ?? '');
      for (const p of d.panels) {
        if (p.type === 'row') continue;
        if (!p.datasource || !uids.has(p.datasource.uid))
          problems.push(`${d.uid}/${p.title}: data source ${p.datasource?.uid ?? 'none'}`);
        if (!p.targets?.length) problems.push(`${d.uid}/${p.title}: no query`);
        for (const t of p.targets ?? []) {
          if (t.expr)
            for (const n of metricNamesIn(t.expr))
              if (!defined.has(n)) problems.push(`${d.uid}/${p.title}: metric ${n}`);
          if (t.rawSql) sqls.push(t.rawSql);
        }
      }
      for (const sql of sqls)
        for (const t of tablesIn(sql)) if (!PUBLIC_TABLES.has(t)) problems.push(`${d.uid}: table ${t}`);
    }
    expect(problems).toEqual([]);
  });

  const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
  if (!promtool)
    console.warn(
      'test/monitoring.spec.ts: promtool checks skipped — install the Debian package `prometheus` (.ci/run does)',
    );
  (promtool ? it : it.skip)('should pass promtool check rules and the rule unit tests', () => {
    const check = execFileSync(promtool!, ['check', 'rules', 'alerts.yml'], {
      cwd: PROM_DIR,
      encoding: 'utf8',
    });
    expect(check).toMatch(/SUCCESS: \d+ rules found/);
    const tests = execFileSync(promtool!, ['test', 'rules', 'alerts.test.yml'], {
      cwd: PROM_DIR,
      encoding: 'utf8',
    });
    expect(tests).toContain('SUCCESS');
    const config = execFileSync(promtool!, ['check', 'config', '--syntax-only', 'prometheus.yml'], {
      cwd: PROM_DIR,
      encoding: 'utf8',
    });
    expect(config).toContain('SUCCESS');
  });
});
