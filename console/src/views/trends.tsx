/**
 * Trends: up to six pens, ranges 1 h / 8 h / 24 h / 7 d (history from GET /api/telemetry bucketed — one-minute and
 * coarser buckets come from the server's aggregates — plus live /ws points), zoom, set points and alarm markers.
 */
import { memo } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import { AXIS, Chart, PRIORITY_COLOUR } from '../chart';
import { AuthLost, asList } from '../connection';
import { named, t, tOr } from '../i18n';
import { toMs, type DeviceInfo } from '../model';
import { addPen, conn, setUi, store, subscribeWanted, ui, useLive, type Pen } from '../runtime';

const RANGES = {
  '1h': [3_600_000, '1m'],
  '8h': [8 * 3_600_000, '2m'],
  '24h': [86_400_000, '5m'],
  '7d': [7 * 86_400_000, '30m'],
} as const;
const NUMERIC: Record<string, readonly string[]> = {
  gas_detector: ['conc'],
  tank: ['level_pct', 'temp_c', 'pressure_kpa'],
  analog: ['value'],
  weather: ['wind_speed_ms'],
};
const UNITS: Record<string, string> = {
  level_pct: '%',
  temp_c: '°C',
  pressure_kpa: 'kPa',
  wind_speed_ms: 'm/s',
};
const PEN_COLOURS = ['#4fc3f7', '#ffb74d', '#81c784', '#ba68c8', '#e57373', '#fff176'];

type Point = [number, number];
const history = new Map<string, { range: string; at: number; points: Point[]; error?: string }>();

export const unitOf = (d: DeviceInfo | undefined, channel: string): string =>
  channel === 'conc' ? (d?.unit ?? '') : (UNITS[channel] ?? '');

/** Set points drawn on a pen: detector alarm levels, tank H / HH and filling limit. */
export function setPoints(
  d: DeviceInfo | undefined,
  channel: string,
): Array<{ name: string; value: number }> {
  if (!d) return [];
  const out: Array<{ name: string; value: number }> = [];
  if (d.kind === 'gas_detector' && channel === 'conc') {
    if (d.level1 !== undefined) out.push({ name: t('detail.level1'), value: d.level1 });
    if (d.level2 !== undefined) out.push({ name: t('detail.level2'), value: d.level2 });
  }
  if (d.kind === 'tank' && channel === 'level_pct') {
    if (d.levelHPct !== undefined) out.push({ name: 'H', value: d.levelHPct });
    if (d.levelHHPct !== undefined) out.push({ name: 'HH', value: d.levelHHPct });
  }
  return out;
}

async function loadHistory(p: Pen, range: keyof typeof RANGES): Promise<void> {
  const k = `${p.key}/${p.channel}`;
  const [span, bucket] = RANGES[range];
  const to = Date.now();
  const q = new URLSearchParams({
    device: p.key,
    channel: p.channel,
    from: new Date(to - span).toISOString(),
    to: new Date(to).toISOString(),
    bucket,
  });
  try {
    const body = await conn.api<{ points?: unknown[] }>(`/api/telemetry?${q.toString()}`);
    const points = asList<Record<string, unknown>>(body?.points ?? body)
      .map((r): Point => [toMs((r.bucket ?? r.time ?? r.ts) as string), Number(r.avg ?? r.last ?? r.value)])
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    history.set(k, { range, at: to, points });
  } catch (err) {
    if (err instanceof AuthLost) return;
    history.set(k, { range, at: to, points: [], error: (err as Error).message });
  }
  store.changed('telemetry');
}

/**
 * The pen picker: every numeric channel of the plant (thousands of options), rendered again only when the plant or the
 * language changed — not on the trend's 1 Hz redraw.
 */
const PenPicker = memo(function PenPicker(_: { plantRev: number; lang: string }) {
  const [pickDevice, setPickDevice] = useState('');
  const options = [...store.deviceByKey.entries()]
    .filter(([, d]) => NUMERIC[d.kind])
    .flatMap(([key, d]) =>
      (NUMERIC[d.kind] ?? []).map((ch) => (
        <option value={`${key}|${ch}`}>
          {named(store.siteById.get(d.siteId))} · {named(d)} · {tOr(`ch.${ch}`, ch)}
        </option>
      )),
    );
  return (
    <>
      <label>
        {t('trend.addPen')}{' '}
        <select id="pen-device" value={pickDevice} onChange={(e) => setPickDevice(e.currentTarget.value)}>
          <option value="">—</option>
          {options}
        </select>
      </label>
      <button
        type="button"
        class="btn"
        id="pen-add"
        disabled={!pickDevice}
        onClick={() => {
          const [key, ch] = pickDevice.split('|');
          if (key && ch) addPen(key, ch);
          setPickDevice('');
        }}
      >
        +
      </button>
    </>
  );
});

export function TrendsView() {
  useLive(['alarms', 'telemetry', 'plant'], 1000);
  const range = ui.range;
  const [span] = RANGES[range];
  useEffect(() => {
    for (const p of ui.pens) {
      const h = history.get(`${p.key}/${p.channel}`);
      if (!h || h.range !== range || Date.now() - h.at > 60_000) void loadHistory(p, range);
    }
  }, [ui.pens.map((p) => `${p.key}/${p.channel}`).join(), range]);

  const now = Date.now();
  const units = [...new Set(ui.pens.map((p) => unitOf(store.deviceByKey.get(p.key), p.channel)))].slice(0, 2);
  const series = ui.pens.map((p, i) => {
    const d = store.deviceByKey.get(p.key);
    const h = history.get(`${p.key}/${p.channel}`);
    const lastHist = h?.points.at(-1)?.[0] ?? -Infinity;
    const live = (store.live.get(`${p.key}/${p.channel}`) ?? [])
      .filter((x) => x.t > lastHist)
      .map((x): Point => [x.t, x.v]);
    const alarms = [...store.alarms.values()].filter((a) => `${a.siteId}/${a.deviceId}` === p.key);
    const colour = PEN_COLOURS[i % PEN_COLOURS.length] as string;
    return {
      id: `${p.key}/${p.channel}`,
      name: `${named(d) || p.key} · ${tOr(`ch.${p.channel}`, p.channel)}`,
      type: 'line',
      showSymbol: false,
      sampling: 'lttb',
      yAxisIndex: Math.max(0, units.indexOf(unitOf(d, p.channel))),
      lineStyle: { width: 2, color: colour },
      itemStyle: { color: colour },
      data: [...(h?.points ?? []), ...live].filter(([x]) => x >= now - span),
      markLine: {
        symbol: 'none',
        silent: true,
        label: { formatter: '{b} {c}', color: '#ffcc80', position: 'insideEndTop' },
        lineStyle: { color: '#ff9800', type: 'dashed' },
        data: setPoints(d, p.channel).map((s) => ({ name: s.name, yAxis: s.value })),
      },
      markPoint: {
        symbol: 'pin',
        symbolSize: 34,
        label: { formatter: '!', color: '#fff' },
        data: alarms
          .filter((a) => toMs(a.raisedAt) >= now - span)
          .map((a) => ({
            coord: [toMs(a.raisedAt), typeof a.value === 'number' ? a.value : 0],
            itemStyle: { color: PRIORITY_COLOUR[a.priority] },
            name: a.message,
          })),
      },
    };
  });
  // each axis reaches its highest set point and alarm value, so limits and alarm markers are always on screen
  const ceiling = units.map((u) => {
    let top = -Infinity;
    ui.pens.forEach((p) => {
      const d = store.deviceByKey.get(p.key);
      if (unitOf(d, p.channel) !== u) return;
      for (const s of setPoints(d, p.channel)) top = Math.max(top, s.value);
      for (const a of store.alarms.values())
        if (`${a.siteId}/${a.deviceId}` === p.key && typeof a.value === 'number')
          top = Math.max(top, a.value);
    });
    return top;
  });
  const option = {
    backgroundColor: 'transparent',
    animation: false,
    legend: { top: 4, textStyle: { color: AXIS.text } },
    tooltip: {
      trigger: 'axis',
      backgroundColor: '#111923',
      borderColor: '#3a4656',
      textStyle: { color: '#e6edf5' },
    },
    // fixed margins: ECharts 6's default 'auto' measures every axis label on each update to fit them into the grid,
    // the largest part of a trend redraw (bench/README.md)
    grid: { left: 60, right: 60, top: 40, bottom: 70, outerBoundsMode: 'none' },
    xAxis: {
      type: 'time',
      min: now - span,
      max: now,
      axisLine: { lineStyle: { color: AXIS.lineColor } },
      axisLabel: { color: AXIS.text },
      splitLine: { show: true, lineStyle: { color: AXIS.split } },
    },
    yAxis: (units.length ? units : ['']).map((u, i) => ({
      type: 'value',
      name: u,
      scale: true,
      max: (v: { max: number }) => {
        const c = ceiling[i] ?? -Infinity;
        return c > v.max ? Math.ceil(c * 1.1 * 10) / 10 : undefined;
      },
      position: i === 0 ? 'left' : 'right',
      nameTextStyle: { color: AXIS.text },
      axisLabel: { color: AXIS.text },
      axisLine: { show: true, lineStyle: { color: AXIS.lineColor } },
      splitLine: { show: i === 0, lineStyle: { color: AXIS.split } },
    })),
    dataZoom: [
      { type: 'inside', xAxisIndex: 0 },
      {
        type: 'slider',
        xAxisIndex: 0,
        height: 22,
        bottom: 16,
        // the shadow is the whole series redrawn in the slider on every update; the trend above already shows it
        showDataShadow: false,
        textStyle: { color: AXIS.text },
        borderColor: AXIS.lineColor,
      },
    ],
    series,
  };
  return (
    <section id="trend-view" class="view panel">
      <div class="toolbar">
        <h2>{t('trend.title')}</h2>
        <div class="seg" role="group" aria-label={t('trend.range')}>
          {(Object.keys(RANGES) as Array<keyof typeof RANGES>).map((r) => (
            <button
              type="button"
              class={`seg-btn ${range === r ? 'on' : ''}`}
              aria-pressed={range === r}
              data-range={r}
              onClick={() => setUi({ range: r })}
            >
              {r}
            </button>
          ))}
        </div>
        <PenPicker plantRev={store.plantRev} lang={ui.lang} />
      </div>
      <ul id="pens" class="pens">
        {ui.pens.map((p, i) => {
          const d = store.deviceByKey.get(p.key);
          const v = store.devices.get(p.key)?.values[p.channel];
          const h = history.get(`${p.key}/${p.channel}`);
          return (
            <li class="pen" data-pen={`${p.key}/${p.channel}`}>
              <span class="swatch" style={{ background: PEN_COLOURS[i % PEN_COLOURS.length] }} />
              <span class="grow">
                {named(d)} · {tOr(`ch.${p.channel}`, p.channel)}
              </span>
              <strong class="pen-value" data-channel={p.channel}>
                {typeof v === 'number' ? v.toFixed(2) : '—'} {unitOf(d, p.channel)}
              </strong>
              {h?.error ? <span class="error">{h.error}</span> : null}
              <button
                type="button"
                class="btn btn-ghost btn-small"
                aria-label="remove"
                onClick={() => {
                  setUi({ pens: ui.pens.filter((x) => x !== p) });
                  subscribeWanted();
                }}
              >
                ×
              </button>
            </li>
          );
        })}
      </ul>
      {ui.pens.length === 0 ? <p class="empty">{t('trend.empty')}</p> : null}
      <Chart
        id="trend-chart"
        class="trend-chart"
        option={option}
        replace={['series', 'yAxis']}
        label={t('trend.title')}
      />
    </section>
  );
}
