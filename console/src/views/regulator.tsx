/**
 * Regulator view: the jurisdiction map, online rate (在线率, GET /api/kpi/online), open and overdue disposals and
 * duty-check results per enterprise (GET /api/regulator/overview, /api/duty-checks/summary), drill-down to the
 * enterprise's hazard sources.
 */
import { useEffect, useState } from 'preact/hooks';
import { AXIS, Chart } from '../chart';
import { AuthLost, asList } from '../connection';
import { named, t, tOr } from '../i18n';
import { PRIORITIES, jurisdictionLevelName, type Priority } from '../model';
import { conn, openSite, store, toast, ui, useLive, type RegulatorEnterprise } from '../runtime';
import { fmtTime } from './alarms';
import { JurisdictionMap } from './map';

type OnlineDay = { siteId: string; day: string; onlinePercent: number; devices: number };
const LEVEL_OF = ['city', 'district', 'park'];

/** The enterprise's incident dossier of the last hour as PDF (docs/incident-dossier.md); the token goes in the header. */
async function openDossier(siteId: string): Promise<void> {
  const res = await fetch(`/api/sites/${encodeURIComponent(siteId)}/incident?format=pdf`, {
    headers: { Authorization: `Bearer ${conn.token ?? ''}` },
  });
  if (!res.ok) {
    toast(`${t('reg.dossier')}: HTTP ${res.status}`, true);
    return;
  }
  window.open(URL.createObjectURL(await res.blob()), '_blank', 'noopener');
}

function liveCounts(siteId: string): Record<Priority, number> {
  const n: Record<Priority, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const a of store.alarms.values()) if (a.siteId === siteId && a.active) n[a.priority]++;
  return n;
}

function dutyText(siteId: string): string {
  const x = ui.duty?.sites.find((r) => r.siteId === siteId);
  if (!x || x.checks === 0) return t('reg.dutyNone');
  const missed = x.noAnswer + x.wrongKey + x.failed;
  const pct = x.onDutyRate === null ? '' : ` (${Math.round(x.onDutyRate)} %)`;
  return `${t('reg.duty')}: ${x.onDuty} / ${x.checks}${pct}${missed > 0 ? ` · ${t('reg.dutyMissed')} ${missed}` : ''}`;
}

function Enterprise({ e, online }: { e: RegulatorEnterprise; online: number | undefined }) {
  const n = liveCounts(e.id);
  const live = store.onlineNow(e.id);
  const overdue = e.disposals?.overdue ?? 0;
  return (
    <li class={`reg-enterprise ${overdue ? 'has-overdue' : ''}`} data-site-id={e.id}>
      <div class="reg-head">
        <strong>{named(store.siteById.get(e.id) ?? e)}</strong>
        <span class="reg-badges">
          {PRIORITIES.filter((p) => n[p] > 0).map((p) => (
            <span class={`prio-badge prio-${p}`} title={t(`priority.${p}`)}>
              {t(`priority.${p}`)} {n[p]}
            </span>
          ))}
          {PRIORITIES.every((p) => n[p] === 0) ? (
            <span class="reg-quiet">
              {t('reg.alarms')}: {t('reg.none')}
            </span>
          ) : null}
          {overdue ? (
            <span class="reg-overdue" data-overdue={String(overdue)}>
              {t('reg.overdue')} {overdue}
            </span>
          ) : null}
          {e.disposals?.awaiting ? (
            <span class="reg-open">
              {t('reg.disposals')} {t('reg.open')} {e.disposals.awaiting}
            </span>
          ) : null}
          {e.disposals?.awaitingReview ? (
            <span class="reg-review">
              {t('reg.review')} {e.disposals.awaitingReview}
            </span>
          ) : null}
          <span
            class={`reg-online ${online !== undefined && online < 95 ? 'low' : ''}`}
            data-online={online ?? ''}
          >
            {t('reg.online')} {online !== undefined ? `${online.toFixed(1)} %` : '—'}
          </span>
          <span class="reg-online-now" data-online-now={`${live.online}/${live.total}`}>
            {t('reg.devicesOnline', { online: live.online, total: live.total })}
          </span>
        </span>
        <button type="button" class="btn btn-small" data-drill={e.id} onClick={() => openSite(e.id)}>
          {t('reg.drill')} →
        </button>
        <button
          type="button"
          class="btn btn-small"
          data-dossier={e.id}
          onClick={() => void openDossier(e.id).catch((err: Error) => toast(err.message, true))}
        >
          {t('reg.dossier')}
        </button>
      </div>
      <ul class="reg-sources">
        {e.hazardSources.map((src) => (
          <li class="reg-source" data-source-id={src.id} data-level={src.filedLevel}>
            <span
              class={`grade grade-${src.filedLevel}`}
              title={`${t('plant.filed')} ${t('plant.grade', { g: src.filedGrade })}`}
            />
            <span class="reg-source-name">{named(src)}</span>
            <span class="reg-live">
              {src.liveLevel ? <span class={`grade grade-small grade-${src.liveLevel}`} /> : null}
              {t('plant.live')} {src.R !== null && src.R !== undefined ? Number(src.R).toFixed(1) : '—'}
            </span>
            <span class="reg-systems" title={t('reg.systems')}>
              {Object.entries(src.systems ?? {}).map(([sys, st]) => (
                <span class={`sys sys-${st}`} data-system={sys}>
                  {t(`sys.${sys}`)}: {tOr(`sys.${st}`, st)}
                </span>
              ))}
            </span>
          </li>
        ))}
      </ul>
      <div class="reg-duty" data-duty={ui.duty ? 'yes' : 'none'}>
        {dutyText(e.id)}
      </div>
    </li>
  );
}

type Node = { level: string; children: Map<string, Node>; enterprises: RegulatorEnterprise[] };

export function RegulatorView() {
  useLive(['alarms', 'plant'], 500);
  useLive(['telemetry'], 5000);
  const [online, setOnline] = useState<OnlineDay[]>([]);
  useEffect(() => {
    // the daily online rate of the last 7 days, refreshed every minute while the view is open (today's is partial)
    const load = (): void => {
      const day = new Date();
      day.setHours(0, 0, 0, 0);
      conn
        .api<unknown>(`/api/kpi/online?from=${new Date(day.getTime() - 6 * 86_400_000).toISOString()}`)
        .then((b) => setOnline(asList<OnlineDay>(b)))
        .catch((err: unknown) => !(err instanceof AuthLost) && console.warn('online rate unavailable', err));
    };
    load();
    const timer = setInterval(() => conn.state === 'open' && load(), 60_000);
    return () => clearInterval(timer);
  }, []);
  const now = store.onlineNow();
  const ov = ui.regulatorOverview;
  const enterprises =
    ov?.enterprises ??
    store.sites.map((s) => ({
      id: s.id,
      name: s.name,
      nameEn: s.nameEn ?? null,
      jurisdiction: s.jurisdiction,
      hazardSources: [],
    }));
  const latest = new Map<string, number>();
  for (const r of [...online].sort((a, b) => a.day.localeCompare(b.day)))
    latest.set(r.siteId, r.onlinePercent);
  const tree = new Map<string, Node>();
  for (const e of enterprises) {
    let node = tree;
    const segs = e.jurisdiction.split('/').filter(Boolean);
    segs.forEach((seg, i) => {
      let next = node.get(seg);
      if (!next)
        node.set(seg, (next = { level: LEVEL_OF[i] ?? 'area', children: new Map(), enterprises: [] }));
      if (i === segs.length - 1) next.enterprises.push(e);
      node = next.children;
    });
  }
  const segName = (path: string, seg: string): string => jurisdictionLevelName(store.sites, path) ?? seg;
  const list = (node: Map<string, Node>, path: string): preact.JSX.Element => (
    <ul class="reg-tree">
      {[...node].map(([seg, entry]) => {
        const p = path ? `${path}/${seg}` : seg;
        return (
          <li class={`reg-node reg-${entry.level}`} data-path={p}>
            <div class="reg-node-head">
              <span class="reg-level">{tOr(`reg.${entry.level}`, entry.level)}</span>
              <strong>{segName(p, seg)}</strong>
            </div>
            {entry.children.size ? list(entry.children, p) : null}
            {entry.enterprises.length ? (
              <ul class="reg-enterprises">
                {entry.enterprises.map((e) => (
                  <Enterprise e={e} online={latest.get(e.id)} />
                ))}
              </ul>
            ) : null}
          </li>
        );
      })}
    </ul>
  );
  const days = [...new Set(online.map((r) => r.day))].sort();
  const onlineChart = {
    backgroundColor: 'transparent',
    legend: { top: 0, left: 'center', textStyle: { color: AXIS.text }, type: 'scroll' },
    tooltip: { trigger: 'axis' },
    grid: { left: 50, right: 20, top: 40, bottom: 30 },
    xAxis: {
      type: 'category',
      data: days,
      axisLabel: { color: AXIS.text },
      axisLine: { lineStyle: { color: AXIS.lineColor } },
    },
    yAxis: {
      type: 'value',
      min: (v: { min: number }) => Math.max(0, Math.floor(v.min - 5)),
      max: 100,
      axisLabel: { color: AXIS.text, formatter: '{value} %' },
      splitLine: { lineStyle: { color: AXIS.split } },
    },
    series: [...new Set(online.map((r) => r.siteId))].map((siteId) => ({
      type: 'line',
      name: named(store.siteById.get(siteId)) || siteId,
      data: days.map((d) => online.find((r) => r.siteId === siteId && r.day === d)?.onlinePercent ?? null),
      markLine: {
        symbol: 'none',
        silent: true,
        data: [{ yAxis: 95 }],
        lineStyle: { color: '#ff9800', type: 'dashed' },
        label: { color: '#ffcc80' },
      },
    })),
  };
  return (
    <section id="regulator-view" class="view reg-layout">
      <div class="panel reg-map">
        <div class="toolbar">
          <h2>{t('reg.map')}</h2>
        </div>
        <JurisdictionMap sites={store.sites} id="reg-map-chart" />
        <h3>
          {t('reg.online')}{' '}
          <span
            id="online-now"
            class={`online-now ${now.total > 0 && now.online < now.total ? 'low' : ''}`}
            data-online={now.online}
            data-total={now.total}
          >
            {t('reg.onlineNow', {
              online: now.online,
              total: now.total,
              pct: now.total ? ((100 * now.online) / now.total).toFixed(1) : '—',
            })}
            {now.lastSeen ? ` · ${t('reg.lastSeen')} ${fmtTime(now.lastSeen)}` : ''}
          </span>
        </h3>
        <Chart id="online-chart" class="online-chart" option={onlineChart} notMerge label={t('reg.online')} />
      </div>
      <div class="panel reg-list">
        <div id="jurisdiction" class="jurisdiction" data-view={ov ? 'regulator' : 'tree'}>
          <h2>{t('regulator.title')}</h2>
          {list(tree, '')}
        </div>
      </div>
    </section>
  );
}
