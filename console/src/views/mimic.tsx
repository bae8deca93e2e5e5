/**
 * Hazard-source mimic (SVG): tanks with live level bar, H / HH marks and filling limit; gas detectors coloured by
 * alarm level; shut-off valves open / closed / travelling; the four safety systems; live R and grade.
 * Values arrive by /ws telemetry and hazard frames; nothing reloads. Click a tank or detector for its trend.
 */
import { LEVEL_COLOUR } from '../chart';
import { named, t, tOr } from '../i18n';
import { GRADE_LEVEL, type DeviceInfo, type DeviceLive } from '../model';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { declared } from '../drill';
import {
  addPen,
  canDeclareDrill,
  endDrill,
  setUi,
  startDrill,
  store,
  subscribeWanted,
  ui,
  useLive,
} from '../runtime';
import { fmtValue } from './alarms';

const SYSTEMS = ['esd', 'gas_detection', 'video', 'lightning'];

export function detectorLevel(
  d: DeviceInfo,
  live: DeviceLive | undefined,
): 'l2' | 'l1' | 'fault' | 'offline' | 'ok' | 'unknown' {
  if (!live) return 'unknown';
  if (live.online === false) return 'offline';
  if (live.values.fault === true) return 'fault';
  const v = live.values.conc;
  if (typeof v !== 'number') return 'unknown';
  if (d.level2 !== undefined && v >= d.level2) return 'l2';
  if (d.level1 !== undefined && v >= d.level1) return 'l1';
  return 'ok';
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function Tank({ d, x, alarm }: { d: DeviceInfo; x: number; alarm: boolean }) {
  const live = store.devices.get(`${d.siteId}/${d.id}`);
  const level = num(live?.values.level_pct);
  const H = 220;
  const top = 70;
  const y = (pct: number): number => top + H - (H * Math.max(0, Math.min(100, pct))) / 100;
  const marks: Array<{ pct: number | undefined; cls: string; label: string }> = [
    { pct: d.levelHHPct, cls: 'mark-hh', label: 'HH' },
    { pct: d.levelHPct, cls: 'mark-h', label: 'H' },
  ];
  const fill = d.levelHHPct;
  const state =
    level === undefined
      ? 'unknown'
      : d.levelHHPct !== undefined && level >= d.levelHHPct
        ? 'hh'
        : d.levelHPct !== undefined && level >= d.levelHPct
          ? 'h'
          : 'ok';
  return (
    <g
      class={`tank tank-${state} ${alarm ? 'in-alarm' : ''}`}
      data-device={`${d.siteId}/${d.id}`}
      data-level={level ?? ''}
      transform={`translate(${x},0)`}
      tabIndex={0}
      role="button"
      aria-label={`${named(d)} ${level !== undefined ? level.toFixed(1) : '—'} %`}
      onClick={() => addPen(`${d.siteId}/${d.id}`, 'level_pct')}
      onKeyDown={(e) => e.key === 'Enter' && addPen(`${d.siteId}/${d.id}`, 'level_pct')}
    >
      <text class="tag-name" x="60" y="40" text-anchor="middle">
        {named(d).replace(/^.*?(\d+#)/, '$1')}
      </text>
      <rect class="vessel" x="20" y={top} width="80" height={H} rx="14" />
      {level !== undefined ? (
        <rect class="level-bar" x="24" y={y(level)} width="72" height={top + H - y(level) - 2} rx="4" />
      ) : null}
      {fill !== undefined ? <line class="fill-limit" x1="10" x2="110" y1={y(fill)} y2={y(fill)} /> : null}
      {marks.map((m) =>
        m.pct !== undefined ? (
          <g class={m.cls}>
            <line x1="100" x2="118" y1={y(m.pct)} y2={y(m.pct)} />
            <text x="121" y={y(m.pct) + 4}>
              {m.label}
            </text>
          </g>
        ) : null,
      )}
      <text class="pv" x="60" y={top + H + 26} text-anchor="middle">
        {level !== undefined ? `${level.toFixed(1)} %` : '—'}
      </text>
      <text class="sub" x="60" y={top + H + 44} text-anchor="middle">
        {[
          num(live?.values.temp_c) !== undefined ? `${fmtValue(live?.values.temp_c)} °C` : '',
          num(live?.values.pressure_kpa) !== undefined ? `${fmtValue(live?.values.pressure_kpa)} kPa` : '',
        ]
          .filter(Boolean)
          .join(' · ')}
      </text>
    </g>
  );
}

function Detector({ d, x, y }: { d: DeviceInfo; x: number; y: number }) {
  const live = store.devices.get(`${d.siteId}/${d.id}`);
  const lvl = detectorLevel(d, live);
  const v = live?.values.conc;
  return (
    <g
      class={`detector det-${lvl}`}
      data-device={`${d.siteId}/${d.id}`}
      data-alarm-level={lvl}
      transform={`translate(${x},${y})`}
      tabIndex={0}
      role="button"
      aria-label={`${named(d)} ${fmtValue(v)} ${d.unit ?? ''}`}
      onClick={() => addPen(`${d.siteId}/${d.id}`, 'conc')}
      onKeyDown={(e) => e.key === 'Enter' && addPen(`${d.siteId}/${d.id}`, 'conc')}
    >
      <rect class="det-box" x="0" y="0" width="160" height="64" rx="6" />
      <text class="det-name" x="10" y="20">
        {named(d).slice(-13)}
      </text>
      <text class="det-value" x="10" y="50">
        {lvl === 'fault' ? t('sys.fault') : lvl === 'offline' ? t('sys.offline') : fmtValue(v)}
      </text>
      <text class="det-unit" x="150" y="50" text-anchor="end">
        {d.unit ?? ''}
      </text>
    </g>
  );
}

function Valve({ d, x, y }: { d: DeviceInfo; x: number; y: number }) {
  const live = store.devices.get(`${d.siteId}/${d.id}`);
  const pos = typeof live?.values.position === 'string' ? live.values.position : 'unknown';
  return (
    <g
      class={`valve valve-${pos}`}
      data-device={`${d.siteId}/${d.id}`}
      data-position={pos}
      transform={`translate(${x},${y})`}
    >
      <line class="pipe" x1="-40" x2="100" y1="20" y2="20" />
      <path class="body" d="M10 5 L50 35 L50 5 L10 35 Z" />
      <line class="stem" x1="30" x2="30" y1="20" y2="-2" />
      <rect class="actuator" x="18" y="-12" width="24" height="10" rx="2" />
      <text class="valve-name" x="30" y="56" text-anchor="middle">
        {named(d).slice(-10)}
      </text>
      <text class="valve-state" x="30" y="74" text-anchor="middle">
        {tOr(`valve.${pos}`, pos)}
      </text>
    </g>
  );
}

export function MimicView() {
  // 4 redraws a second at most: a busy plant's telemetry (hundreds of frames a second) never redraws per frame
  useLive(['alarms', 'telemetry', 'plant'], 250);
  const siteId = ui.siteId ?? store.sites[0]?.id ?? null;
  const site = siteId ? store.siteById.get(siteId) : undefined;
  const sourceId =
    ui.sourceId && site?.hazardSources.some((s) => s.id === ui.sourceId)
      ? ui.sourceId
      : (site?.hazardSources[0]?.id ?? null);
  const src = sourceId ? store.sourceById.get(sourceId) : undefined;
  useEffect(() => {
    // the source on screen is the one whose devices the console subscribes to
    if (siteId && (ui.siteId !== siteId || ui.sourceId !== sourceId)) setUi({ siteId, sourceId });
    subscribeWanted();
  }, [siteId, sourceId]);
  const hz = sourceId ? store.hazards.get(sourceId) : undefined;
  const devices = useMemo(
    () => [...store.deviceByKey.values()].filter((d) => d.siteId === siteId && d.sourceId === sourceId),
    [siteId, sourceId, store.plantRev, store.deviceByKey.size],
  );
  const tanks = devices.filter((d) => d.kind === 'tank');
  const detectors = devices.filter((d) => d.kind === 'gas_detector');
  const valves = devices.filter((d) => d.kind === 'shutoff_valve');
  const inAlarm = new Set<string>();
  for (const a of store.alarms.values())
    if (a.active && a.deviceId && a.siteId === siteId) inAlarm.add(`${a.siteId}/${a.deviceId}`);
  const grade = hz?.grade ?? src?.filedGrade;
  const level = hz?.level ?? (grade ? GRADE_LEVEL[grade] : undefined) ?? 'unknown';
  const systems = (src?.requiredSystems ?? SYSTEMS).map((sys) => {
    const dev = devices.find((d) => d.kind === 'safety_system' && d.system === sys);
    const live = dev ? store.devices.get(`${dev.siteId}/${dev.id}`) : undefined;
    const status = !dev
      ? 'missing'
      : !live
        ? 'unknown'
        : live.online === false
          ? 'offline'
          : typeof live.values.status === 'string'
            ? live.values.status
            : 'unknown';
    return { sys, status };
  });
  // tanks and valves on the left, detectors and the four systems beside them: one compact schematic
  const detX = Math.max(30 + tanks.length * 170 + 60, 30 + valves.length * 160 + 60, 420);
  const width = detX + 360;
  const pick = (s: string, src2: string | null): void => {
    setUi({ siteId: s, sourceId: src2 });
    subscribeWanted();
  };
  return (
    <section id="mimic-view" class="view panel">
      <div class="toolbar">
        <h2>{t('mimic.title')}</h2>
        <label>
          {t('filter.site')}{' '}
          <select
            id="mimic-site"
            value={siteId ?? ''}
            onChange={(e) => {
              const s = e.currentTarget.value;
              pick(s, store.siteById.get(s)?.hazardSources[0]?.id ?? null);
            }}
          >
            {store.sites.map((s) => (
              <option value={s.id}>{named(s)}</option>
            ))}
          </select>
        </label>
        {siteId ? <DrillControl siteId={siteId} /> : null}
        <div class="seg" role="tablist">
          {(site?.hazardSources ?? []).map((s) => (
            <button
              type="button"
              role="tab"
              aria-selected={s.id === sourceId}
              class={`seg-btn ${s.id === sourceId ? 'on' : ''}`}
              data-source-id={s.id}
              onClick={() => siteId && pick(siteId, s.id)}
            >
              {named(s)}
            </button>
          ))}
        </div>
        <div class="rbox" id="mimic-r" data-level={level} data-grade={grade ?? ''}>
          <span class={`grade grade-${level}`} />
          <span>
            {t('mimic.R')} <strong>{typeof hz?.R === 'number' ? hz.R.toFixed(1) : '—'}</strong>
          </span>
          <span>
            {t('mimic.grade')}{' '}
            <strong style={{ color: LEVEL_COLOUR[level] }}>
              {grade ? t('plant.grade', { g: grade }) : '—'}
            </strong>
          </span>
          {src?.filedGrade ? (
            <span class="muted">
              {t('plant.filed')} {t('plant.grade', { g: src.filedGrade })}
            </span>
          ) : null}
        </div>
      </div>
      <div class="mimic-wrap">
        <svg
          class="mimic"
          viewBox={`0 0 ${width} 620`}
          preserveAspectRatio="xMidYMin meet"
          role="img"
          aria-label={named(src)}
        >
          <text class="zone" x="20" y="24">
            {t('mimic.tanks')}
          </text>
          {tanks.map((d, i) => (
            <Tank d={d} x={30 + i * 170} alarm={inAlarm.has(`${d.siteId}/${d.id}`)} />
          ))}
          {/* header pipe from the tanks to the valve row */}
          {tanks.length > 0 ? (
            <path
              class="pipe"
              d={`M ${90} 360 L ${90} 395 L ${Math.max(200, 30 + (tanks.length - 1) * 170 + 60)} 395`}
            />
          ) : null}
          <text class="zone" x="20" y="420">
            {t('mimic.valves')}
          </text>
          {valves.map((d, i) => (
            <Valve d={d} x={80 + i * 160} y={450} />
          ))}
          <text class="zone" x={detX} y="24">
            {t('mimic.detectors')}
          </text>
          {detectors.map((d, i) => (
            <Detector d={d} x={detX + (i % 2) * 170} y={40 + Math.floor(i / 2) * 80} />
          ))}
          <text class="zone" x={detX} y="440">
            {t('mimic.systems')}
          </text>
          {systems.map((s, i) => (
            <g
              class={`system sys-${s.status}`}
              data-system={s.sys}
              data-status={s.status}
              transform={`translate(${detX + (i % 2) * 170},${455 + Math.floor(i / 2) * 56})`}
            >
              <rect x="0" y="0" width="160" height="46" rx="6" />
              <text x="10" y="19">
                {t(`sys.${s.sys}`)}
              </text>
              <text class="sys-state" x="10" y="38">
                {tOr(`sys.${s.status}`, s.status)}
              </text>
            </g>
          ))}
        </svg>
      </div>
    </section>
  );
}

/**
 * The site's drill (docs/adr/0028-declared-drills.md): supervisors and admins start one with its scenario and end it;
 * everyone sees that one is running.
 */
function DrillControl({ siteId }: { siteId: string }) {
  const [scenario, setScenario] = useState('');
  const running = declared.list.find((d) => d.siteId === siteId && d.running);
  if (!canDeclareDrill())
    return running ? (
      <span id="drill-state" class="tag tag-drill" title={running.scenario}>
        {t('drill.running')}
      </span>
    ) : null;
  return running ? (
    <div class="drill-control" id="drill-control" data-running="true">
      <span class="tag tag-drill" title={running.scenario}>
        {t('drill.running')} · {running.scenario}
      </span>
      <button type="button" class="btn" id="drill-end" onClick={() => void endDrill(siteId)}>
        {t('drill.end')}
      </button>
    </div>
  ) : (
    <form
      class="drill-control"
      id="drill-control"
      data-running="false"
      onSubmit={(e) => {
        e.preventDefault();
        const s = scenario.trim();
        if (s === '') return;
        setScenario('');
        void startDrill(siteId, s);
      }}
    >
      <input
        id="drill-scenario"
        type="text"
        maxLength={500}
        placeholder={t('drill.scenario')}
        aria-label={t('drill.scenario')}
        value={scenario}
        onInput={(e) => setScenario(e.currentTarget.value)}
      />
      <button type="submit" class="btn" id="drill-start" disabled={scenario.trim() === ''}>
        {t('drill.start')}
      </button>
    </form>
  );
}
