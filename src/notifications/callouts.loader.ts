/** Loads config/callouts.yaml: the call policy, rosters, duty desks, duty-check schedule and voice provider. */
import { scopeCovers, sitePath } from '../auth/principal';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { ConfigError } from '../common/errors';
import { readYamlFile, validateInto, type PlantModel, type Problem } from '../config/config.loader';
import {
  CalloutsFileSchema,
  type OnCallSchema,
  type PersonSchema,
  type RosterSchema,
  type LadderStepSchema,
} from './callouts.schema';
import {
  CALL_OUTCOMES,
  PERSON_ROLES,
  type CallOutcome,
  type DutyCheckPolicy,
  type EscalationPolicy,
  type LadderStep,
  type Person,
  type Roster,
  type SiteContacts,
} from './domain/callout.types';

export const CALLOUTS_FILE = 'callouts.yaml';

export type FakeVoiceSettings = {
  readonly callMs: number;
  readonly defaultOutcome: CallOutcome;
  readonly byNumber: ReadonlyMap<string, readonly CallOutcome[]>;
  /** Duty-check calls: the confirm key with this probability (seeded dice), else NO_ANSWER; absent: as any call. */
  readonly dutyChecks?: { readonly answerRate: number; readonly seed: number };
};
export type SipVoiceSettings = {
  readonly proxy?: { host: string; port: number };
  readonly localAddress: string;
  readonly localPort: number;
  readonly publicAddress: string;
  readonly fromUser: string;
  readonly displayName: string;
  readonly username?: string;
  readonly password?: string;
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  readonly voice: string;
};
export type VoiceSettings = {
  readonly provider: 'fake' | 'sip';
  readonly fake: FakeVoiceSettings;
  readonly sip?: SipVoiceSettings;
};

export type CalloutsConfig = {
  readonly file: string;
  readonly timeZone: string;
  readonly voice: VoiceSettings;
  readonly policy: EscalationPolicy;
  readonly sites: ReadonlyMap<string, SiteContacts>;
  /** Duty-check policy per configured site (the file's defaults with the site's overrides). */
  readonly dutyChecks: ReadonlyMap<string, DutyCheckPolicy>;
};

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Parses a cron expression the way the scheduler will; returns the reason when it is invalid. */
export function cronProblem(cron: string, timeZone: string): string | undefined {
  try {
    CronExpressionParser.parse(cron, { tz: timeZone }).next();
    return undefined;
  } catch (err) {
    return `invalid cron expression '${cron}': ${err instanceof Error ? err.message : String(err)}`;
  }
}

const toPerson = (p: PersonSchema): Person => ({
  name: p.name,
  number: p.number,
  onCall: (p.onCall ?? []).map((w: OnCallSchema) => ({
    days: [...w.days],
    fromMin: minutesOf(w.from),
    toMin: minutesOf(w.to),
    ...(w.fromDate !== undefined ? { fromDate: w.fromDate } : {}),
    ...(w.toDate !== undefined ? { toDate: w.toDate } : {}),
  })),
});

const toRoster = (r: RosterSchema): Roster => ({
  main: (r.main ?? []).map(toPerson),
  technical: (r.technical ?? []).map(toPerson),
  operations: (r.operations ?? []).map(toPerson),
});

const toLadder = (l: readonly LadderStepSchema[]): LadderStep[] =>
  l.map((s) => ({ targets: [...s.targets], afterMs: s.afterSeconds * 1000 }));

function check(f: CalloutsFileSchema, plant: PlantModel, demo: boolean): Problem[] {
  const problems: Problem[] = [];
  if (!validTimeZone(f.timezone))
    problems.push({ path: 'timezone', reason: `unknown time zone '${f.timezone}'` });
  const tz = validTimeZone(f.timezone) ? f.timezone : 'Asia/Shanghai';
  const cron = cronProblem(f.dutyCheck.cron, tz);
  if (cron) problems.push({ path: 'dutyCheck.cron', reason: cron });
  const seen = new Set<string>();
  f.sites.forEach((s, i) => {
    const p = `sites[${i}]`;
    const site = plant.siteById.get(s.siteId);
    if (!site)
      problems.push({ path: `${p}.siteId`, reason: `unknown site '${s.siteId}' (not in plant.yaml)` });
    if (seen.has(s.siteId)) problems.push({ path: `${p}.siteId`, reason: `duplicate site '${s.siteId}'` });
    seen.add(s.siteId);
    const rosters: Array<[string, RosterSchema]> = [
      [`${p}.responsible`, s.responsible],
      ...(s.sources ?? []).map((src, j): [string, RosterSchema] => [
        `${p}.sources[${j}].responsible`,
        src.responsible,
      ]),
    ];
    (s.sources ?? []).forEach((src, j) => {
      if (site && !site.hazardSources.some((h) => h.id === src.sourceId))
        problems.push({
          path: `${p}.sources[${j}].sourceId`,
          reason: `'${src.sourceId}' is not a hazard source of site '${s.siteId}'`,
        });
    });
    for (const [rp, roster] of rosters) {
      for (const role of PERSON_ROLES) {
        (roster[role] ?? []).forEach((person, k) =>
          (person.onCall ?? []).forEach((w, m) => {
            if (w.fromDate !== undefined && w.toDate !== undefined && w.toDate < w.fromDate)
              problems.push({
                path: `${rp}.${role}[${k}].onCall[${m}].toDate`,
                reason: 'must not be before fromDate',
              });
          }),
        );
      }
    }
    if (s.dutyCheck?.cron !== undefined) {
      const c = cronProblem(s.dutyCheck.cron, tz);
      if (c) problems.push({ path: `${p}.dutyCheck.cron`, reason: c });
    }
  });
  const jurisdictions = new Set<string>();
  f.jurisdictionDutyChecks.forEach((j, i) => {
    const p = `jurisdictionDutyChecks[${i}]`;
    if (jurisdictions.has(j.jurisdiction))
      problems.push({ path: `${p}.jurisdiction`, reason: `duplicate jurisdiction '${j.jurisdiction}'` });
    jurisdictions.add(j.jurisdiction);
    const covered = f.sites.filter((s) => {
      const site = plant.siteById.get(s.siteId);
      return site !== undefined && scopeCovers(j.jurisdiction, sitePath(site));
    });
    if (covered.length === 0)
      problems.push({
        path: `${p}.jurisdiction`,
        reason: `no enterprise of sites[] lies under '${j.jurisdiction}' (plant.yaml jurisdictions)`,
      });
    if (j.cron !== undefined) {
      const c = cronProblem(j.cron, tz);
      if (c) problems.push({ path: `${p}.cron`, reason: c });
    }
  });
  f.policy.ruleLadders.forEach((l, i) => {
    if (l.ruleIdPrefix === '')
      problems.push({ path: `policy.ruleLadders[${i}].ruleIdPrefix`, reason: 'must not be empty' });
  });
  const fake = f.voice.fake;
  for (const [num, outcomes] of Object.entries(fake.byNumber)) {
    if (
      !Array.isArray(outcomes) ||
      outcomes.length === 0 ||
      !outcomes.every((o) => (CALL_OUTCOMES as readonly unknown[]).includes(o))
    )
      problems.push({
        path: `voice.fake.byNumber.${num}`,
        reason: `must be a non-empty list of outcomes among ${CALL_OUTCOMES.join(', ')}`,
      });
  }
  const provider = f.voice.provider === 'auto' ? (demo ? 'fake' : 'sip') : f.voice.provider;
  if (provider === 'sip') {
    const sip = f.voice.sip;
    if (!sip)
      problems.push({
        path: 'voice.sip',
        reason: `required when the provider is sip${f.voice.provider === 'auto' ? ' (auto selects sip outside demo mode)' : ''}`,
      });
    else if (sip.rtpPortMin >= sip.rtpPortMax)
      problems.push({ path: 'voice.sip.rtpPortMax', reason: 'must be above rtpPortMin' });
    const phoneNumbers = f.sites.some((s) => !s.controlRoom.number.startsWith('sip'));
    if (sip && sip.proxy === undefined && phoneNumbers)
      problems.push({
        path: 'voice.sip.proxy',
        reason: 'required to call phone numbers (the PBX or SIP/GSM gateway that dials them)',
      });
  }
  return problems;
}

function dutyDeskFor(f: CalloutsFileSchema, jurisdiction: string | undefined): SiteContacts['dutyDesk'] {
  if (jurisdiction === undefined) return undefined;
  const covering = f.dutyDesks.filter(
    (d) => jurisdiction === d.jurisdiction || jurisdiction.startsWith(d.jurisdiction + '/'),
  );
  covering.sort((a, b) => b.jurisdiction.length - a.jurisdiction.length);
  const d = covering[0];
  return d ? { name: d.name, number: d.number } : undefined;
}

export function toCalloutsConfig(
  f: CalloutsFileSchema,
  plant: PlantModel,
  file: string,
  demo: boolean,
): CalloutsConfig {
  const tz = f.timezone;
  const p = f.policy;
  const policy: EscalationPolicy = {
    triggerPriorities: [...p.triggerPriorities],
    startDelayMs: {
      critical: p.startDelaySeconds.critical * 1000,
      high: p.startDelaySeconds.high * 1000,
      medium: p.startDelaySeconds.medium * 1000,
      low: p.startDelaySeconds.low * 1000,
    },
    ringTimeoutMs: p.ringTimeoutSeconds * 1000,
    keyTimeoutMs: p.keyTimeoutSeconds * 1000,
    retries: p.retries,
    retryDelayMs: p.retryDelaySeconds * 1000,
    retryOn: [...p.retryOn],
    promptRepeats: p.promptRepeats,
    confirmKey: p.confirmKey,
    loops: p.loops,
    loopDelayMs: p.loopDelaySeconds * 1000,
    ladder: toLadder(p.ladder),
    quiet: p.quiet.map((q) => ({
      fromMin: minutesOf(q.from),
      toMin: minutesOf(q.to),
      priorities: [...q.priorities],
      targets: [...q.targets],
    })),
    ruleLadders: p.ruleLadders.map((l) => ({ ruleIdPrefix: l.ruleIdPrefix, ladder: toLadder(l.ladder) })),
    timeZone: tz,
  };
  const d = f.dutyCheck;
  const baseDuty: DutyCheckPolicy = {
    enabled: d.enabled,
    cron: d.cron,
    timeZone: tz,
    jitterMs: d.jitterMinutes * 60_000,
    ringTimeoutMs: d.ringTimeoutSeconds * 1000,
    keyTimeoutMs: d.keyTimeoutSeconds * 1000,
    retries: d.retries,
    retryAfterMs: d.retryAfterSeconds * 1000,
    confirmKey: d.confirmKey,
    promptRepeats: d.promptRepeats,
    missedPriority: d.missedPriority,
  };
  const sites = new Map<string, SiteContacts>();
  const dutyChecks = new Map<string, DutyCheckPolicy>();
  for (const s of f.sites) {
    const desk = dutyDeskFor(f, plant.siteById.get(s.siteId)?.jurisdiction);
    sites.set(s.siteId, {
      siteId: s.siteId,
      controlRoom: { name: s.controlRoom.name, number: s.controlRoom.number },
      responsible: toRoster(s.responsible),
      sources: new Map((s.sources ?? []).map((src) => [src.sourceId, toRoster(src.responsible)])),
      ...(desk ? { dutyDesk: desk } : {}),
    });
    const site = plant.siteById.get(s.siteId);
    // precedence: the site's own schedule, then the longest jurisdiction path covering it, then the file's default
    const area = site
      ? f.jurisdictionDutyChecks
          .filter((j) => scopeCovers(j.jurisdiction, sitePath(site)))
          .sort((a, b) => b.jurisdiction.length - a.jurisdiction.length)[0]
      : undefined;
    dutyChecks.set(s.siteId, {
      ...baseDuty,
      enabled: s.dutyCheck?.enabled ?? area?.enabled ?? baseDuty.enabled,
      cron: s.dutyCheck?.cron ?? area?.cron ?? baseDuty.cron,
    });
  }
  const sip = f.voice.sip;
  const proxy = sip?.proxy ? /^(.+?)(?::(\d+))?$/.exec(sip.proxy) : null;
  const voice: VoiceSettings = {
    provider: f.voice.provider === 'auto' ? (demo ? 'fake' : 'sip') : f.voice.provider,
    fake: {
      callMs: f.voice.fake.callSeconds * 1000,
      defaultOutcome: f.voice.fake.default,
      byNumber: new Map(Object.entries(f.voice.fake.byNumber).map(([k, v]) => [k, [...v]])),
      ...(f.voice.fake.dutyChecks
        ? {
            dutyChecks: {
              answerRate: f.voice.fake.dutyChecks.answerRate,
              seed: f.voice.fake.dutyChecks.seed,
            },
          }
        : {}),
    },
    ...(sip
      ? {
          sip: {
            ...(proxy?.[1] ? { proxy: { host: proxy[1], port: proxy[2] ? Number(proxy[2]) : 5060 } } : {}),
            localAddress: sip.localAddress,
            localPort: sip.localPort,
            publicAddress: sip.publicAddress ?? sip.localAddress,
            fromUser: sip.fromUser,
            displayName: sip.displayName,
            ...(sip.username !== undefined ? { username: sip.username } : {}),
            ...(sip.password !== undefined ? { password: sip.password } : {}),
            rtpPortMin: sip.rtpPortMin,
            rtpPortMax: sip.rtpPortMax,
            voice: sip.voice,
          },
        }
      : {}),
  };
  return { file, timeZone: tz, voice, policy, sites, dutyChecks };
}

/** Reads CONFIG_DIR/callouts.yaml; absent → null (call-outs and duty checks off, said loudly at start). */
export function loadCallouts(configDir: string, plant: PlantModel, demo: boolean): CalloutsConfig | null {
  const file = resolve(join(configDir, CALLOUTS_FILE));
  if (!existsSync(file)) return null;
  const parsed = validateInto(CalloutsFileSchema, readYamlFile(file) ?? {}, file);
  const problems = check(parsed, plant, demo);
  if (problems.length) throw new ConfigError(file, problems);
  return toCalloutsConfig(parsed, plant, file, demo);
}
