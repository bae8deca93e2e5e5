/** The console shell: alarm banner (always visible), navigation, dialogs, and the active view. */
import { useEffect, useRef } from 'preact/hooks';
import { t } from './i18n';
import { DRILL, declared, drillNow, isDrillAlarm, nextDrill } from './drill';
import { PRIORITIES, blinks, compareAlarms, countAlarms, toMs } from './model';

const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 5);
import {
  VIEWS,
  annunciator,
  conn,
  isRegulator,
  loadDevices,
  loadDrills,
  loadFloods,
  loadHazards,
  loadRegulator,
  setUi,
  shelve,
  siteName,
  sourceName,
  store,
  ui,
  useLive,
  type ViewName,
} from './runtime';
import { AlarmsView } from './views/alarms';
import { KpiView } from './views/kpi';
import { MapView } from './views/map';
import { MimicView } from './views/mimic';
import { RegulatorView } from './views/regulator';
import { TrendsView } from './views/trends';

function Banner() {
  const c = countAlarms(store.alarms.values());
  const worst = [...store.alarms.values()].filter(blinks).sort(compareAlarms('priority'))[0];
  // a drill is announced while it runs (demo schedule) and while alarms it raised are still active
  const running = drillNow();
  const next = nextDrill();
  const declaredRunning = declared.list.filter((d) => d.running);
  const drill =
    running !== null ||
    declaredRunning.length > 0 ||
    [...store.alarms.values()].some((a) => a.active && isDrillAlarm(a));
  const floodSites = [...store.floods.keys()];
  return (
    <div
      id="alarm-banner"
      class={`alarm-banner ${c.unacked > 0 ? 'has-unacked' : ''}`}
      role="status"
      aria-live="polite"
    >
      <div id="banner-counts" class="counts">
        {PRIORITIES.map((p) => (
          <button
            type="button"
            class={`count-chip prio-${p} ${c.byPriority[p] > 0 ? 'nonzero' : ''}`}
            data-count={p}
            title={t(`priority.${p}`)}
            onClick={() =>
              setUi({ view: 'alarms', filter: { ...ui.filter, view: 'active', priorities: new Set([p]) } })
            }
          >
            <span class="n">{c.byPriority[p]}</span>
            <span class="l">{t(`priority.${p}`)}</span>
          </button>
        ))}
        <span class={`count-chip unacked ${c.unacked > 0 ? 'nonzero chip-blink' : ''}`} data-count="unacked">
          <span class="n">{c.unacked}</span>
          <span class="l">{t('banner.unacked')}</span>
        </span>
        <span class="count-chip muted-chip" data-count="shelved">
          <span class="n">{c.shelved}</span>
          <span class="l">{t('banner.shelved')}</span>
        </span>
        <span class="count-chip muted-chip" data-count="suppressed">
          <span class="n">{c.suppressed}</span>
          <span class="l">{t('banner.suppressed')}</span>
        </span>
        <span class="count-chip muted-chip" data-count="out_of_service">
          <span class="n">{c.outOfService}</span>
          <span class="l">{t('banner.oos')}</span>
        </span>
      </div>
      <div class="summary-line">
        {worst ? (
          <span class={`latest prio-text-${worst.priority}`} data-alarm-id={worst.id}>
            <span class={`prio-badge prio-${worst.priority}`}>{t(`priority.${worst.priority}`)}</span>{' '}
            {siteName(worst.siteId)} · {sourceName(worst.sourceId)} · {worst.message}
          </span>
        ) : (
          <span class="latest quiet">{t('alarms.empty')}</span>
        )}
      </div>
      <div id="banner-flood" class="flag flag-flood" role="alert" hidden={floodSites.length === 0}>
        <strong>{t('banner.flood')}</strong>{' '}
        <span id="flood-detail">
          {floodSites.map((s) => `${siteName(s)} (${store.floods.get(s) ?? 0}/10 min)`).join(' · ')}
        </span>
      </div>
      <div
        id="banner-drill"
        class="flag flag-drill"
        hidden={!drill}
        title={[
          t('banner.drillText'),
          ...declaredRunning.map((d) => `${siteName(d.siteId)} · ${d.scenario} · ${d.startedBy}`),
        ].join('\n')}
        data-phase={running?.phase.scenario ?? ''}
        data-sites={declaredRunning.map((d) => d.siteId).join(' ')}
      >
        <strong>{t('banner.drill')}</strong>
        {declaredRunning.map((d) => (
          <span class="drill-site" data-drill-id={d.id}>
            {' · '}
            {siteName(d.siteId)} · {d.scenario} ·{' '}
            {t('drill.by', { who: d.startedBy, time: clock(toMs(d.startedAt)) })}
          </span>
        ))}
        {running
          ? ` · ${t(`drill.${running.phase.scenario}`)} · ${t('drill.until', { time: clock(running.endMs) })}`
          : ''}
      </div>
      {!drill && next !== null && next - Date.now() < 15 * 60_000 ? (
        <div id="banner-next-drill" class="flag flag-next-drill">
          {t('drill.next', { time: clock(next) })}
        </div>
      ) : null}
    </div>
  );
}

function TokenDialog() {
  const dlg = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const d = dlg.current;
    if (!d) return;
    if (ui.conn === 'auth' && !d.open) {
      d.showModal();
      input.current?.focus();
    } else if (ui.conn !== 'auth' && d.open) d.close();
  });
  return (
    <dialog id="token-dialog" class="dialog" ref={dlg} onCancel={(e) => e.preventDefault()}>
      <form
        id="token-form"
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          const token = input.current?.value.trim() ?? '';
          if (!token) return;
          annunciator.unlock();
          if (input.current) input.current.value = '';
          setUi({
            tokenError: false,
            regulatorOverview: null,
            duty: null,
            siteId: null,
            sourceId: null,
            pens: [],
          });
          conn.signIn(token);
        }}
      >
        <h2>{t('token.title')}</h2>
        <p class="help">{t('token.help')}</p>
        <p id="token-error" class="error" hidden={!ui.tokenError}>
          {t('token.invalid')}
        </p>
        <label>
          {t('token.label')}{' '}
          <input id="token-input" ref={input} type="password" autocomplete="off" spellcheck={false} />
        </label>
        <div class="dialog-actions">
          <button id="token-submit" type="submit" class="btn btn-primary">
            {t('token.submit')}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function ShelveDialog() {
  const dlg = useRef<HTMLDialogElement>(null);
  const minutes = useRef<HTMLInputElement>(null);
  const reason = useRef<HTMLInputElement>(null);
  const a = ui.shelving;
  useEffect(() => {
    const d = dlg.current;
    if (!d) return;
    if (a && !d.open) {
      if (reason.current) reason.current.value = '';
      d.showModal();
      reason.current?.focus();
    } else if (!a && d.open) d.close();
  });
  return (
    <dialog
      id="shelve-dialog"
      class="dialog"
      ref={dlg}
      onClose={() => ui.shelving && setUi({ shelving: null })}
    >
      <form
        id="shelve-form"
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          const m = Number(minutes.current?.value);
          const r = reason.current?.value.trim() ?? '';
          if (!a || !Number.isInteger(m) || m < 1 || m > 720 || r === '') return;
          setUi({ shelving: null });
          void shelve(a, m, r);
        }}
      >
        <h2>{t('shelve.title')}</h2>
        <p id="shelve-what" class="help">
          {a ? `${sourceName(a.sourceId)} · ${a.message}` : ''}
        </p>
        <label>
          {t('shelve.minutes')}{' '}
          <input id="shelve-minutes" ref={minutes} type="number" min={1} max={720} value="60" required />
        </label>
        <label>
          {t('shelve.reason')} <input id="shelve-reason" ref={reason} type="text" maxLength={500} required />
        </label>
        <div class="dialog-actions">
          <button
            type="button"
            id="shelve-cancel"
            class="btn btn-ghost"
            onClick={() => setUi({ shelving: null })}
          >
            {t('cancel')}
          </button>
          <button type="submit" class="btn btn-primary">
            {t('shelve')}
          </button>
        </div>
      </form>
    </dialog>
  );
}

const VIEW_KEYS: Record<string, ViewName> = {
  '1': 'alarms',
  '2': 'map',
  '3': 'mimic',
  '4': 'trends',
  '5': 'kpi',
  '6': 'regulator',
};

function Nav() {
  const tabs = VIEWS;
  const move = (from: ViewName, d: number): void => {
    const i = tabs.indexOf(from);
    const next = tabs[(i + d + tabs.length) % tabs.length] as ViewName;
    setUi({ view: next });
    document.getElementById(`tab-${next}`)?.focus();
  };
  return (
    <nav id="nav" class="nav" role="tablist" aria-label="views">
      {tabs.map((v, i) => (
        <button
          id={`tab-${v}`}
          type="button"
          role="tab"
          aria-selected={ui.view === v}
          tabIndex={ui.view === v ? 0 : -1}
          class={`tab ${ui.view === v ? 'on' : ''}`}
          data-view={v}
          onClick={() => setUi({ view: v })}
          onKeyDown={(e) => {
            if (e.key === 'ArrowRight') move(v, 1);
            else if (e.key === 'ArrowLeft') move(v, -1);
          }}
        >
          <span class="key">{i + 1}</span> {t(`nav.${v}`)}
        </button>
      ))}
    </nav>
  );
}

function StorageBanner() {
  useLive(['status']);
  return (
    <div id="banner-storage" class="banner banner-storage" role="alert" hidden={!store.storageDegraded}>
      {t('storage.degraded')} <span id="storage-detail">{store.databaseReason}</span>
    </div>
  );
}

function Header() {
  useLive(['alarms', 'status']);
  const p = conn.principal;
  return (
    <header class="top">
      <div class="brand">
        <span class="logo" aria-hidden="true">
          ◆
        </span>
        <div>
          <h1>{t('title')}</h1>
          <div class="subtitle">{isRegulator() ? t('regulator.title') : t('subtitle')}</div>
        </div>
      </div>
      <Banner />
      <div class="status">
        <span id="conn" class={`conn conn-${ui.conn}`} data-state={ui.conn}>
          <span class="dot" />
          <span id="conn-label">{t(`conn.${ui.conn}`)}</span>
        </span>
        <span id="seq" class="seq">
          {store.lastSeq !== null ? `${t('conn.seq')} ${store.lastSeq}` : ''}
        </span>
        <span id="who" class="who">
          {p ? `${p.name} · ${t(`role.${p.role}`)}${p.scope ? ` · ${p.scope}` : ''}` : ''}
        </span>
        <button
          id="mute"
          type="button"
          class="btn btn-ghost"
          aria-pressed={annunciator.muted}
          onClick={() => {
            annunciator.toggleMute();
            store.changed();
          }}
        >
          {annunciator.muted ? `🔇 ${t('unmute')}` : `🔔 ${t('mute')}`}
        </button>
        <button
          id="lang"
          type="button"
          class="btn btn-ghost"
          onClick={() => setUi({ lang: ui.lang === 'zh' ? 'en' : 'zh' })}
        >
          {t('language')}
        </button>
        <button id="logout" type="button" class="btn btn-ghost" onClick={() => conn.signOut()}>
          {t('logout')}
        </button>
      </div>
    </header>
  );
}

export function App() {
  // the shell follows the UI state only; the banner and each view follow their own store topics
  useLive([]);
  useEffect(() => {
    document.documentElement.lang = ui.lang === 'zh' ? 'zh-CN' : 'en';
    const onKey = (e: KeyboardEvent): void => {
      const target = e.target as HTMLElement | null;
      if (target && /INPUT|SELECT|TEXTAREA/.test(target.tagName)) return;
      if (document.querySelector('dialog[open]')) return;
      const v = VIEW_KEYS[e.key];
      if (v && !e.ctrlKey && !e.metaKey && !e.altKey) setUi({ view: v });
      else if (e.key === 'm' || e.key === 'M') {
        annunciator.toggleMute();
        store.changed();
      }
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('pointerdown', () => annunciator.unlock(), { passive: true });
    // Online state and live R refresh, the server's flood state and the regulator overview follow by polling.
    const slow = setInterval(() => {
      if (conn.state !== 'open') return;
      void loadHazards();
      void loadRegulator();
    }, 30_000);
    // flood state and declared drills (a drill started on another console shows here within seconds)
    const fast = setInterval(() => {
      if (conn.state !== 'open') return;
      void loadFloods();
      void loadDrills();
    }, 3_000);
    // device online / last seen (the server's view, incl. devices that went silent) for the mimic and the 在线率
    const devices = setInterval(
      () => conn.state === 'open' && store.sites.length > 0 && void loadDevices(),
      15_000,
    );
    // the drill banner follows the clock (the demo schedule), not only alarm events
    const drillTick = DRILL ? setInterval(() => store.changed('status'), 10_000) : undefined;
    // the one blink phase of the page (styles.css): unacknowledged alarms blink in step everywhere
    const blink = setInterval(() => {
      const root = document.documentElement;
      root.dataset.blink = root.dataset.blink === 'on' ? 'off' : 'on';
    }, 500);
    if (conn.token) conn.connect();
    else setUi({ conn: 'auth' });
    return () => {
      document.removeEventListener('keydown', onKey);
      clearInterval(slow);
      clearInterval(fast);
      clearInterval(devices);
      clearInterval(drillTick);
      clearInterval(blink);
    };
  }, []);
  useEffect(() => {
    document.documentElement.lang = ui.lang === 'zh' ? 'zh-CN' : 'en';
  }, [ui.lang]);
  const first = useRef(true);
  useEffect(() => {
    // a regulator lands on the regulator view once their principal is known
    if (first.current && conn.principal) {
      first.current = false;
      if (isRegulator()) setUi({ view: 'regulator' });
    }
  });
  return (
    <div class="shell" data-view={ui.view}>
      <Header />
      <StorageBanner />
      <Nav />
      <main class="main">
        {ui.view === 'alarms' ? <AlarmsView /> : null}
        {ui.view === 'map' ? <MapView /> : null}
        {ui.view === 'mimic' ? <MimicView /> : null}
        {ui.view === 'trends' ? <TrendsView /> : null}
        {ui.view === 'kpi' ? <KpiView /> : null}
        {ui.view === 'regulator' ? <RegulatorView /> : null}
      </main>
      {ui.toast ? (
        <div id="toast" class={`toast ${ui.toast.error ? 'error' : ''}`} role="status">
          {ui.toast.text}
        </div>
      ) : null}
      <TokenDialog />
      <ShelveDialog />
    </div>
  );
}
