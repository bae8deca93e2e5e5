/**
 * 一张图: the jurisdiction's districts (bundled GeoJSON, no tile server) with every enterprise as a marker coloured by
 * its live four-colour risk, rippling while it has unacknowledged alarms; click to zoom into the enterprise.
 */
import { useEffect, useMemo, useRef } from 'preact/hooks';
import { Chart, LEVEL_COLOUR } from '../chart';
import { TIANJIN_MAP, type EChart } from '../echarts';
import { getLang, named, t } from '../i18n';
import { LEVELS, countAlarms, jurisdictionLabel, siteLevel, type SiteInfo } from '../model';
import { openSite, setUi, sourceName, store, ui, useLive } from '../runtime';
import { MERCATOR, drawTiles, tileConfig, tilesFor } from '../tiles';

/** The customer's tile server, when the page was served with one (CONSOLE_TILE_URL); null: outlines alone. */
const TILES = tileConfig();

type Marker = { name: string; value: [number, number, number]; siteId: string; level: string };

export function markers(sites: readonly SiteInfo[]): Marker[] {
  const out: Marker[] = [];
  for (const s of sites) {
    if (!s.location) continue;
    const level = siteLevel(s, store.hazards);
    out.push({ name: named(s), value: [s.location.lon, s.location.lat, 1], siteId: s.id, level });
  }
  return out;
}

/** The map chart alone (also used by the regulator view). */
export function JurisdictionMap(props: { sites: readonly SiteInfo[]; id: string }) {
  const unacked = store.unackedSites();
  const all = markers(props.sites);
  const focus = ui.mapSiteId ? store.siteById.get(ui.mapSiteId) : undefined;
  // the map is redrawn only when what it shows changed (a marker's level or blink, the focus, the names), never
  // because an alarm event or a telemetry frame re-rendered the view
  const shown = `${focus?.id ?? ''}|${all.map((m) => `${m.siteId}:${m.level}:${m.name}:${unacked.has(m.siteId) ? 1 : 0}`).join(',')}`;
  const option = useMemo(() => {
    const style = (m: Marker) => ({ color: LEVEL_COLOUR[m.level], borderColor: '#fff', borderWidth: 1.5 });
    return {
      backgroundColor: 'transparent',
      tooltip: {
        trigger: 'item',
        backgroundColor: '#111923',
        borderColor: '#3a4656',
        textStyle: { color: '#e6edf5' },
      },
      geo: {
        map: TIANJIN_MAP,
        roam: true,
        ...(focus?.location
          ? { center: [focus.location.lon, focus.location.lat], zoom: 3.5 }
          : { center: [117.35, 39.28], zoom: 1 }),
        label: { show: true, color: TILES ? '#c9d6e4' : '#8797aa', fontSize: 11 },
        // over tiles: Web Mercator like the tiles, and a see-through fill so the tiles show under the outlines
        ...(TILES ? { projection: MERCATOR } : {}),
        itemStyle: {
          areaColor: TILES ? 'rgba(22, 33, 46, 0.25)' : '#16212e',
          borderColor: '#3d5a78',
          borderWidth: 1,
        },
        emphasis: { itemStyle: { areaColor: '#1f3246' }, label: { color: '#e6edf5' } },
        select: { disabled: true },
      },
      series: [
        {
          id: 'steady',
          type: 'scatter',
          coordinateSystem: 'geo',
          symbolSize: 14,
          data: all.filter((m) => !unacked.has(m.siteId)).map((m) => ({ ...m, itemStyle: style(m) })),
          label: { show: true, position: 'right', formatter: '{b}', color: '#dbe4ee', fontSize: 12 },
          tooltip: { formatter: (p: { name: string }) => p.name },
          zlevel: 2,
        },
        {
          // blinks with the page's blink phase (below): no per-frame ripple animation to paint
          id: 'unacked',
          type: 'scatter',
          coordinateSystem: 'geo',
          symbolSize: 20,
          data: all.filter((m) => unacked.has(m.siteId)).map((m) => ({ ...m, itemStyle: style(m) })),
          label: {
            show: true,
            position: 'right',
            formatter: '{b}',
            color: '#ffffff',
            fontSize: 13,
            fontWeight: 'bold',
          },
          zlevel: 3,
        },
      ],
    };
  }, [shown]);
  const chart = useRef<EChart | null>(null);
  useEffect(() => {
    // unacknowledged enterprises blink in step with the alarm list (html[data-blink], app.tsx)
    const timer = setInterval(() => {
      const on = document.documentElement.dataset.blink === 'on';
      chart.current?.setOption({
        series: [{ id: 'unacked', symbolSize: on ? 22 : 12, itemStyle: { opacity: on ? 1 : 0.35 } }],
      });
    }, 500);
    return () => clearInterval(timer);
  }, []);
  const layer = useRef<HTMLDivElement>(null);
  return (
    <div class={`map-stack map-chart ${TILES ? 'with-tiles' : ''}`}>
      {TILES ? <div class="tiles" ref={layer} aria-hidden="true" /> : null}
      <Chart
        id={props.id}
        class="map-canvas"
        option={option}
        label={t('map.title')}
        onReady={(c) => {
          chart.current = c;
          c.on('click', (p) => {
            const d = p.data as Marker | undefined;
            if (d?.siteId) setUi({ mapSiteId: d.siteId });
          });
          if (TILES) {
            // the tiles follow the geo view after every draw (setOption, pan, zoom, resize)
            const follow = (): void => {
              const el = layer.current;
              if (!el) return;
              const w = c.getWidth();
              const h = c.getHeight();
              const tl = c.convertFromPixel({ geoIndex: 0 }, [0, 0]) as number[] | undefined;
              const br = c.convertFromPixel({ geoIndex: 0 }, [w, h]) as number[] | undefined;
              if (!tl || !br) return;
              drawTiles(
                el,
                TILES.template,
                tilesFor([tl[0] ?? 0, tl[1] ?? 0], [br[0] ?? 0, br[1] ?? 0], w, h),
              );
            };
            c.on('georoam', follow);
            c.on('finished', follow);
          }
        }}
      />
      {TILES?.attribution ? <div class="tile-attribution">{TILES.attribution}</div> : null}
    </div>
  );
}

function Legend() {
  return (
    <div class="legend" aria-label={t('map.legend')}>
      {LEVELS.map((l) => (
        <span class="legend-item">
          <span class={`dot dot-${l}`} /> {t(`level.${l}`)}
        </span>
      ))}
      <span class="legend-item">
        <span class="dot dot-ripple" /> {t('map.unacked')}
      </span>
    </div>
  );
}

export function SiteCard({ s, unacked }: { s: SiteInfo; unacked: boolean }) {
  const level = siteLevel(s, store.hazards);
  const c = countAlarms([...store.alarms.values()].filter((a) => a.siteId === s.id));
  const path = jurisdictionLabel(s);
  return (
    <li
      class={`site level-${level} ${unacked ? 'blink-border' : ''} ${ui.mapSiteId === s.id ? 'selected' : ''}`}
      data-site-id={s.id}
      data-level={level}
      data-unacked={unacked ? 'true' : 'false'}
    >
      <button type="button" class="site-btn" onClick={() => setUi({ mapSiteId: s.id })}>
        <span class={`grade grade-${level}`} aria-hidden="true" />
        <span class="site-text">
          <strong>{named(s)}</strong>
          <span class="path">{path}</span>
        </span>
        <span class="site-counts">
          {c.active > 0 ? <span class={`pill ${c.unacked ? 'pill-unacked' : ''}`}>{c.active}</span> : null}
        </span>
      </button>
    </li>
  );
}

export function MapView() {
  useLive(['alarms', 'plant'], 250);
  const unacked = store.unackedSites();
  const focus = ui.mapSiteId ? store.siteById.get(ui.mapSiteId) : undefined;
  const sites = [...store.sites].sort(
    (a, b) => LEVELS.indexOf(siteLevel(a, store.hazards)) - LEVELS.indexOf(siteLevel(b, store.hazards)),
  );
  return (
    <section id="map-view" class="view map-layout">
      <div class="panel map-panel">
        <div class="toolbar">
          <h2>{t('map.title')}</h2>
          <Legend />
          {focus ? (
            <button
              type="button"
              class="btn btn-ghost"
              id="map-back"
              onClick={() => setUi({ mapSiteId: null })}
            >
              ← {t('map.back')}
            </button>
          ) : null}
        </div>
        <JurisdictionMap sites={store.sites} id="map-chart" />
      </div>
      <aside class="panel side">
        {focus ? (
          <div id="site-focus" class="site-focus" data-site-id={focus.id}>
            <h3>{named(focus)}</h3>
            <div class="path">{jurisdictionLabel(focus)}</div>
            <ul class="sources">
              {focus.hazardSources.map((src) => {
                const hz = store.hazards.get(src.id);
                const level =
                  hz?.level ?? (['red', 'orange', 'yellow', 'blue'][(src.filedGrade ?? 4) - 1] as string);
                return (
                  <li class="source-row" data-source-id={src.id}>
                    <span class={`grade grade-${level}`} />
                    <span class="grow">{sourceName(src.id)}</span>
                    <span class="r">R {typeof hz?.R === 'number' ? hz.R.toFixed(1) : '—'}</span>
                  </li>
                );
              })}
            </ul>
            <button type="button" class="btn btn-primary" id="open-mimic" onClick={() => openSite(focus.id)}>
              {t('map.openMimic')}
            </button>
          </div>
        ) : null}
        <h3>
          {t('map.enterprises')} <span class="count">{sites.length}</span>
        </h3>
        <ul id="plant" class="site-list" lang={getLang()}>
          {sites.map((s) => (
            <SiteCard key={s.id} s={s} unacked={unacked.has(s.id)} />
          ))}
        </ul>
      </aside>
    </section>
  );
}
