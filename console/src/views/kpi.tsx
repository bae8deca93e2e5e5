/** Alarm-management KPIs (EEMUA 191 / ISA-18.2) from GET /api/kpi/alarms, as charts against their targets. */
import { useEffect, useState } from 'preact/hooks';
import type { AlarmKpis } from '../../../src/alarms/domain/alarm-kpi';
import { AXIS, Chart, PRIORITY_COLOUR } from '../chart';
import { AuthLost } from '../connection';
import { t } from '../i18n';
import { PRIORITIES } from '../model';
import { conn, deviceName, siteName, sourceName, useLive } from '../runtime';

const DAY = 86_400_000;
const WINDOWS = { '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY } as const;

const axis = {
  axisLine: { lineStyle: { color: AXIS.lineColor } },
  axisLabel: { color: AXIS.text },
  splitLine: { lineStyle: { color: AXIS.split } },
};

export function KpiView() {
  useLive(['plant']);
  const [win, setWin] = useState<keyof typeof WINDOWS>('24h');
  const [kpi, setKpi] = useState<AlarmKpis | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    conn
      .api<AlarmKpis>(`/api/kpi/alarms?from=${new Date(Date.now() - WINDOWS[win]).toISOString()}`)
      .then((k) => live && (setKpi(k), setError('')))
      .catch((err: unknown) => live && !(err instanceof AuthLost) && setError((err as Error).message));
    return () => {
      live = false;
    };
  }, [win]);
  const sites = kpi?.bySite ?? [];
  const target = kpi?.targets.averagePer10Min ?? 1;
  const rate = {
    backgroundColor: 'transparent',
    tooltip: { trigger: 'axis' },
    legend: { top: 0, right: 10, textStyle: { color: AXIS.text } },
    grid: { left: 170, right: 40, top: 30, bottom: 30 },
    xAxis: { type: 'value', ...axis },
    yAxis: { type: 'category', data: sites.map((s) => siteName(s.siteId)), ...axis },
    series: [
      {
        type: 'bar',
        name: t('kpi.ratePerSite'),
        data: sites.map((s) => ({
          value: s.averagePer10Min,
          itemStyle: { color: s.averageWithinTarget ? '#4caf50' : '#e5322d' },
        })),
        label: { show: true, position: 'right', color: '#e6edf5' },
        markLine: {
          symbol: 'none',
          data: [{ xAxis: target, name: t('kpi.target') }],
          label: { formatter: `${t('kpi.target')} {c}`, color: '#ffcc80' },
          lineStyle: { color: '#ff9800', type: 'dashed' },
        },
      },
      {
        type: 'bar',
        name: t('kpi.peak'),
        data: sites.map((s) => s.peakPer10Min),
        itemStyle: { color: '#5c6b7d' },
      },
    ],
  };
  const top = kpi?.top10 ?? [];
  const topChart = {
    backgroundColor: 'transparent',
    tooltip: { trigger: 'axis' },
    grid: { left: 300, right: 90, top: 10, bottom: 30 },
    xAxis: { type: 'value', ...axis },
    yAxis: {
      type: 'category',
      inverse: true,
      data: top.map((r) => `${sourceName(r.sourceId)} · ${deviceName(r.siteId, r.deviceId)} ${r.condition}`),
      ...axis,
    },
    series: [
      {
        type: 'bar',
        data: top.map((r) => r.count),
        itemStyle: { color: '#f5822a' },
        label: {
          show: true,
          position: 'right',
          color: '#e6edf5',
          formatter: (p: { dataIndex: number }) =>
            `${top[p.dataIndex]?.count ?? ''} (${top[p.dataIndex]?.percentOfLoad ?? 0} %)`,
        },
      },
    ],
  };
  const dist = kpi?.priorityDistribution;
  const distChart = {
    backgroundColor: 'transparent',
    legend: { top: 0, right: 10, textStyle: { color: AXIS.text } },
    tooltip: { trigger: 'axis' },
    grid: { left: 50, right: 20, top: 34, bottom: 30 },
    xAxis: { type: 'category', data: PRIORITIES.map((p) => t(`priority.${p}`)), ...axis },
    yAxis: { type: 'value', max: 100, ...axis },
    series: [
      {
        type: 'bar',
        name: '%',
        data: PRIORITIES.map((p) => ({
          value: dist?.percent[p] ?? 0,
          itemStyle: { color: PRIORITY_COLOUR[p] },
        })),
      },
      {
        type: 'line',
        name: t('kpi.target'),
        data: PRIORITIES.map((p) => dist?.targetPercent[p] ?? 0),
        lineStyle: { type: 'dashed', color: '#ffcc80' },
        itemStyle: { color: '#ffcc80' },
      },
    ],
  };
  const tile = (id: string, label: string, value: number | string, target?: number, over?: boolean) => (
    <div class={`tile ${over ? 'tile-bad' : 'tile-ok'}`} data-kpi={id}>
      <div class="tile-label">{label}</div>
      <div class="tile-value">{value}</div>
      {target !== undefined ? (
        <div class="tile-target">
          {t('kpi.target')} ≤ {target}
        </div>
      ) : null}
    </div>
  );
  return (
    <section id="kpi-view" class="view">
      <div class="panel toolbar">
        <h2>{t('kpi.title')}</h2>
        <div class="seg">
          {(Object.keys(WINDOWS) as Array<keyof typeof WINDOWS>).map((w) => (
            <button
              type="button"
              class={`seg-btn ${w === win ? 'on' : ''}`}
              aria-pressed={w === win}
              data-window={w}
              onClick={() => setWin(w)}
            >
              {w}
            </button>
          ))}
        </div>
        {error ? <span class="error">{error}</span> : null}
      </div>
      {kpi ? (
        <div class="tiles">
          {tile('average', t('kpi.rateAll'), kpi.aggregate.averagePer10Min)}
          {tile(
            'flood',
            t('kpi.flood'),
            `${kpi.percentTimeInFlood} %`,
            kpi.targets.percentTimeInFlood,
            kpi.percentTimeInFlood > kpi.targets.percentTimeInFlood,
          )}
          {tile(
            'floods',
            t('flood.on'),
            sites.reduce((n, s) => n + s.floods, 0),
          )}
          {tile(
            'chattering',
            t('kpi.chattering'),
            kpi.chattering.length,
            kpi.targets.chattering,
            kpi.chattering.length > kpi.targets.chattering,
          )}
          {tile(
            'stale',
            t('kpi.stale'),
            kpi.stale.length,
            kpi.targets.staleAlarms,
            kpi.stale.length > kpi.targets.staleAlarms,
          )}
          {tile('standing', t('banner.active'), kpi.standing)}
        </div>
      ) : (
        <p class="empty">{error || t('common.loading')}</p>
      )}
      <div class="kpi-grid">
        <div class="panel">
          <h3>{t('kpi.ratePerSite')}</h3>
          <Chart id="kpi-rate" class="kpi-chart" option={rate} label={t('kpi.ratePerSite')} />
        </div>
        <div class="panel">
          <h3>{t('kpi.priorityDist')}</h3>
          <Chart id="kpi-dist" class="kpi-chart" option={distChart} label={t('kpi.priorityDist')} />
        </div>
        <div class="panel wide">
          <h3>{t('kpi.top10')}</h3>
          {top.length ? (
            <Chart id="kpi-top" class="kpi-chart" option={topChart} label={t('kpi.top10')} />
          ) : (
            <p class="empty">{t('kpi.none')}</p>
          )}
        </div>
        <div class="panel">
          <h3>{t('kpi.chattering')}</h3>
          <ul class="kpi-list" id="kpi-chattering">
            {(kpi?.chattering ?? []).map((c) => (
              <li>
                {sourceName(c.sourceId)} · {deviceName(c.siteId, c.deviceId)} {c.condition} —{' '}
                {c.maxActivationsIn60s}/60 s
              </li>
            ))}
            {kpi && kpi.chattering.length === 0 ? <li class="muted">{t('kpi.none')}</li> : null}
          </ul>
        </div>
        <div class="panel">
          <h3>{t('kpi.stale')}</h3>
          <ul class="kpi-list" id="kpi-stale">
            {(kpi?.stale ?? []).map((c) => (
              <li>
                {sourceName(c.sourceId)} · {deviceName(c.siteId, c.deviceId)} {c.condition} — {c.hoursActive}{' '}
                h
              </li>
            ))}
            {kpi && kpi.stale.length === 0 ? <li class="muted">{t('kpi.none')}</li> : null}
          </ul>
        </div>
      </div>
    </section>
  );
}
