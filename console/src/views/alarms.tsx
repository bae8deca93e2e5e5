/** Alarm list: filter, sort, views for shelved / suppressed / out of service, first-out mark, ack and shelve. */
import { Component } from 'preact';
import { useCallback, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { named, t } from '../i18n';
import {
  type Alarm,
  type AlarmView,
  type Priority,
  type SortKey,
  PRIORITIES,
  alarmKind,
  blinks,
  countAlarms,
  filterAlarms,
  firstOut,
  toMs,
} from '../model';
import {
  ack,
  addPen,
  canAct,
  conn,
  deviceName,
  setUi,
  siteName,
  sourceName,
  store,
  ui,
  useLive,
} from '../runtime';
import { isDrillAlarm } from '../drill';
import { WINDOW_FROM, rowWindow, scrollToRow } from '../windowing';

const pad = (n: number): string => String(n).padStart(2, '0');
export function fmtTime(v: string | number | undefined): string {
  const ms = toMs(v);
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function fmtValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number')
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return typeof v === 'string' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

const label = (a: Alarm): string =>
  `${siteName(a.siteId)} ${sourceName(a.sourceId)} ${deviceName(a.siteId, a.deviceId)} ${a.message} ${a.condition}`;

const VIEWS: readonly AlarmView[] = ['active', 'shelved', 'suppressed', 'out_of_service'];
const CHANNEL_OF: Record<string, string> = { gas_detector: 'conc', tank: 'level_pct' };

type RowProps = {
  a: Alarm;
  firstOut: boolean;
  lang: string;
  plantRev: number;
  focusNext: (el: HTMLElement, d: number) => void;
};

/** One row, re-rendered only when its alarm, its first-out mark, the language or the plant names change. */
class MemoRow extends Component<RowProps> {
  override shouldComponentUpdate(next: RowProps): boolean {
    const p = this.props;
    return (
      p.a !== next.a || p.firstOut !== next.firstOut || p.lang !== next.lang || p.plantRev !== next.plantRev
    );
  }
  override render(): preact.JSX.Element {
    const p = this.props;
    return (
      <AlarmRow a={p.a} firstOutIds={p.firstOut ? new Set([p.a.id]) : new Set()} focusNext={p.focusNext} />
    );
  }
}

function AlarmRow({
  a,
  firstOutIds,
  focusNext,
}: {
  a: Alarm;
  firstOutIds: Set<string>;
  focusNext: (el: HTMLElement, d: number) => void;
}) {
  const kind = alarmKind(a);
  const device = a.deviceId ? store.deviceByKey.get(`${a.siteId}/${a.deviceId}`) : undefined;
  const mayShelve =
    canAct() &&
    a.state !== 'shelved' &&
    a.state !== 'suppressed' &&
    a.state !== 'out_of_service' &&
    !(a.priority === 'critical' && conn.principal?.role === 'operator');
  const trend = (): void => {
    const ch = device ? CHANNEL_OF[device.kind] : undefined;
    if (device && ch) addPen(`${a.siteId}/${device.id}`, ch);
  };
  const cls = [
    'alarm',
    `kind-${kind}`,
    a.acked ? '' : 'unacked',
    blinks(a) ? 'blink' : '',
    firstOutIds.has(a.id) ? 'first-out' : '',
    `prio-row-${a.priority}`,
  ]
    .filter(Boolean)
    .join(' ');
  return (
    <tr
      class={cls}
      data-alarm-id={a.id}
      data-state={a.state}
      data-priority={a.priority}
      tabIndex={0}
      onKeyDown={(e) => {
        if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
          e.preventDefault();
          focusNext(e.currentTarget, e.key === 'ArrowDown' ? 1 : -1);
        } else if ((e.key === 'a' || e.key === 'A') && canAct() && !a.acked) {
          e.preventDefault();
          void ack(a);
        } else if (e.key === 'Enter') trend();
      }}
      onDblClick={trend}
    >
      <td class="prio">
        <span class={`prio-badge prio-${a.priority}`}>{t(`priority.${a.priority}`)}</span>
      </td>
      <td class="time">{fmtTime(a.raisedAt)}</td>
      <td class="site-name">{siteName(a.siteId)}</td>
      <td>
        {sourceName(a.sourceId)}
        {device ? <div class="detail-meta">{named(device)}</div> : null}
      </td>
      <td class="msg">
        {firstOutIds.has(a.id) ? <span class="tag tag-first-out">{t('alarm.firstOut')}</span> : null}
        {isDrillAlarm(a) ? <span class="tag tag-drill">{t('alarm.drill')}</span> : null}
        {a.message || a.condition}
      </td>
      <td class="value">
        {fmtValue(a.value)} / {fmtValue(a.limit)}
      </td>
      <td class="state">
        {t(`state.${a.state}`)}
        {a.journalled === false ? (
          <span class="not-journalled" title={t('alarm.notJournalledHint')}>
            {' '}
            {t('alarm.notJournalled')}
          </span>
        ) : null}
      </td>
      <td class="actions">
        {canAct() && !a.acked ? (
          <button
            type="button"
            class="btn btn-small btn-ack"
            data-action="ack"
            onClick={(e) => {
              e.stopPropagation();
              void ack(a);
            }}
          >
            {t('ack')}
          </button>
        ) : null}
        {mayShelve ? (
          <button
            type="button"
            class="btn btn-small"
            data-action="shelve"
            onClick={(e) => {
              e.stopPropagation();
              setUi({ shelving: a });
            }}
          >
            {t('shelve')}
          </button>
        ) : null}
      </td>
    </tr>
  );
}

type Item = { readonly group: string; readonly n: number } | { readonly a: Alarm };

/**
 * The rows of the table in order: alarms, or — in a server-reported flood, sorted by priority — alarms grouped by
 * hazard source, groups ordered by their most urgent alarm (nothing hidden).
 */
function items(rows: readonly Alarm[], grouped: boolean): Item[] {
  if (!grouped) return rows.map((a) => ({ a }));
  const groups = new Map<string, Alarm[]>();
  for (const a of rows) {
    const g = groups.get(a.sourceId);
    if (g) g.push(a);
    else groups.set(a.sourceId, [a]);
  }
  const out: Item[] = [];
  for (const [sourceId, list] of groups) {
    out.push({ group: sourceId, n: list.length });
    for (const a of list) out.push({ a });
  }
  return out;
}

/** Scroll position and row height of the windowed table, re-rendered at most once per animation frame on scroll. */
function useScrollWindow(wrap: { current: HTMLDivElement | null }) {
  const [, setTick] = useState(0);
  const geometry = useRef({ top: 0, viewH: 800, rowH: 34, headH: 30 });
  const queued = useRef(false);
  const onScroll = useCallback((): void => {
    if (queued.current) return;
    queued.current = true;
    requestAnimationFrame(() => {
      queued.current = false;
      const el = wrap.current;
      if (!el) return;
      const g = geometry.current;
      if (el.scrollTop === g.top && el.clientHeight === g.viewH) return;
      geometry.current = { ...g, top: el.scrollTop, viewH: el.clientHeight };
      setTick((x) => x + 1);
    });
  }, []);
  const measured = useRef(false);
  useLayoutEffect(() => {
    // measure a real row once, when the list is first windowed (font and zoom decide the height; styles.css makes
    // every windowed row the same height): measuring on every render could flip between two heights for ever
    const el = wrap.current;
    if (!el) return;
    const row = measured.current ? null : el.querySelector<HTMLElement>('table.windowed tr.alarm');
    if (row) measured.current = true;
    const head = el.querySelector<HTMLElement>('thead');
    const g = geometry.current;
    const rowH = row ? row.getBoundingClientRect().height : g.rowH;
    const next = {
      top: el.scrollTop,
      viewH: el.clientHeight || g.viewH,
      rowH: rowH > 0 ? rowH : g.rowH,
      headH: head?.getBoundingClientRect().height ?? g.headH,
    };
    if (Math.abs(next.rowH - g.rowH) > 0.5 || next.viewH !== g.viewH) {
      geometry.current = next;
      setTick((x) => x + 1);
    }
  });
  return { geometry, onScroll };
}

export function AlarmsView() {
  useLive(['alarms', 'plant', 'status']);
  const tbody = useRef<HTMLTableSectionElement>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const { geometry, onScroll } = useScrollWindow(wrap);
  const f = ui.filter;
  const rows = filterAlarms(store.alarms.values(), f, label);
  const counts = countAlarms(store.alarms.values());
  const fo = firstOut(store.alarms.values());
  const flooding = store.floods.size > 0 && f.view === 'active';
  const list = items(rows, flooding && f.sort === 'priority');
  const g = geometry.current;
  const win = rowWindow(list.length, g.top, g.viewH - g.headH, g.rowH);
  const listRef = useRef(list);
  listRef.current = list;
  /** Arrow keys move the focus through the whole list, scrolling rows that are not in the DOM yet into it. */
  const focusNext = useCallback((el: HTMLElement, d: number): void => {
    const all = listRef.current;
    const i = all.findIndex((x) => 'a' in x && x.a.id === el.dataset.alarmId);
    let j = i + d;
    while (j >= 0 && j < all.length && !('a' in (all[j] as Item))) j += d;
    const target = all[j];
    if (!target || !('a' in target)) return;
    const sel = `tr.alarm[data-alarm-id="${CSS.escape(target.a.id)}"]`;
    const box = wrap.current;
    const geo = geometry.current;
    if (box) box.scrollTop = scrollToRow(j, box.scrollTop, box.clientHeight, geo.rowH, geo.headH);
    const now = tbody.current?.querySelector<HTMLElement>(sel);
    if (now) return now.focus();
    geometry.current = { ...geo, top: box?.scrollTop ?? geo.top };
    requestAnimationFrame(() => tbody.current?.querySelector<HTMLElement>(sel)?.focus());
    onScroll();
  }, []);
  const setFilter = (patch: Partial<typeof f>): void => setUi({ filter: { ...f, ...patch } });
  const togglePrio = (p: Priority): void => {
    const next = new Set(f.priorities);
    if (next.has(p)) next.delete(p);
    else next.add(p);
    setFilter({ priorities: next });
  };
  const viewCount: Record<AlarmView, number> = {
    active: counts.active,
    shelved: counts.shelved,
    suppressed: counts.suppressed,
    out_of_service: counts.outOfService,
  };

  const body: preact.JSX.Element[] = [];
  if (win.padTop > 0)
    body.push(<tr class="spacer" key="pad-top" aria-hidden="true" style={{ height: `${win.padTop}px` }} />);
  for (let i = win.start; i < win.end; i++) {
    const item = list[i] as Item;
    if ('a' in item)
      body.push(
        <MemoRow
          key={item.a.id}
          a={item.a}
          firstOut={fo.has(item.a.id)}
          lang={ui.lang}
          plantRev={store.plantRev}
          focusNext={focusNext}
        />,
      );
    else
      body.push(
        <tr class="group" key={`g-${item.group}`}>
          <td colSpan={8}>
            {sourceName(item.group)} · {t('alarms.count', { n: item.n })}
          </td>
        </tr>,
      );
  }
  if (win.padBottom > 0)
    body.push(
      <tr class="spacer" key="pad-bottom" aria-hidden="true" style={{ height: `${win.padBottom}px` }} />,
    );
  // windowed rows are one line high, so every row has the measured height
  const windowed = list.length > WINDOW_FROM;

  return (
    <section id="alarm-view" class="view panel" aria-labelledby="alarms-title">
      <div class="toolbar">
        <h2 id="alarms-title">
          <span data-i18n="alarms.title">{t('alarms.title')}</span>{' '}
          <span id="alarm-count" class="count">
            {rows.length ? t('alarms.count', { n: rows.length }) : ''}
          </span>
        </h2>
        <div class="seg" role="tablist" aria-label={t('alarms.title')}>
          {VIEWS.map((v) => (
            <button
              type="button"
              role="tab"
              aria-selected={f.view === v}
              class={`seg-btn ${f.view === v ? 'on' : ''}`}
              data-alarm-view={v}
              onClick={() => setFilter({ view: v })}
            >
              {t(`view.${v}`)} <span class="seg-n">{viewCount[v]}</span>
            </button>
          ))}
        </div>
        <div class="seg" aria-label={t('col.priority')}>
          {PRIORITIES.map((p) => (
            <button
              type="button"
              aria-pressed={f.priorities.has(p)}
              class={`seg-btn prio-toggle prio-${p} ${f.priorities.has(p) ? 'on' : ''}`}
              data-prio-filter={p}
              onClick={() => togglePrio(p)}
            >
              {t(`priority.${p}`)}
            </button>
          ))}
        </div>
        <input
          id="alarm-filter"
          type="search"
          placeholder={t('filter.text')}
          aria-label={t('filter.text')}
          value={f.text}
          onInput={(e) => setFilter({ text: e.currentTarget.value })}
        />
        <label class="sort">
          {t('sort.label')}{' '}
          <select
            id="alarm-sort"
            value={f.sort}
            onChange={(e) => setFilter({ sort: e.currentTarget.value as SortKey })}
          >
            {(['priority', 'time', 'source'] as const).map((s) => (
              <option value={s}>{t(`sort.${s}`)}</option>
            ))}
          </select>
        </label>
      </div>
      <div class="table-wrap" ref={wrap} onScroll={onScroll}>
        <table
          class={`alarms ${windowed ? 'windowed' : ''}`}
          id="alarm-table"
          aria-rowcount={list.length + 1}
          data-rows={list.length}
        >
          <thead>
            <tr>
              <th>{t('col.priority')}</th>
              <th>{t('col.time')}</th>
              <th>{t('col.site')}</th>
              <th>{t('col.source')}</th>
              <th>{t('col.message')}</th>
              <th>{t('col.value')}</th>
              <th>{t('col.state')}</th>
              <th>{t('col.actions')}</th>
            </tr>
          </thead>
          <tbody id="alarm-rows" ref={tbody}>
            {body}
          </tbody>
        </table>
        {rows.length === 0 ? (
          <p id="alarm-empty" class="empty">
            {t('alarms.empty')}
          </p>
        ) : null}
      </div>
    </section>
  );
}
