/**
 * The national early-warning profile (docs/cap-profile.md, "National profile"): the same CAP 1.2 message re-addressed
 * for platforms that exchange messages in the GB/T 35965.1-2018 form. What changes: the identifier
 * (`ZZZZZZDDDUUUXX_YYYYMMDDhhmmss_N`, 31 characters), the sender (the 14-character unit code), references and
 * incidents in that identifier space, a `<code>` naming the profile, Chinese prose only, and the event-type code when
 * one is configured. What does not change: severity, urgency and certainty stay CAP values from the condition class and
 * the wording stays plant-alarm wording (报警) — a plant alarm is never dressed as a government 预警 grade. Pure.
 */
import type { CapAlert, CapValuePair } from './cap.types';
import { CST_OFFSET_MINUTES } from './cap-time';

export const NATIONAL_PROFILE = 'cn-national';
export const CAP_PROFILES = ['oasis', NATIONAL_PROFILE] as const;
export type CapProfile = (typeof CAP_PROFILES)[number];
export const isCapProfile = (s: string): s is CapProfile => (CAP_PROFILES as readonly string[]).includes(s);

/** The `<code>` that tells a reader which profile a document follows. */
export const NATIONAL_PROFILE_CODE = 'GB/T 35965.1-2018';

/** feeds.yaml `nationalProfile`: the parts of the unit code the platform assigns (the district code comes from plant.yaml). */
export type NationalProfileSettings = {
  /** DDD: the issuing body's industry code (GB/T 4657), 3 digits. */
  readonly industryCode: string;
  /** UUU: internal second-level code, default `000`. */
  readonly unitCode: string;
  /** XX: extension, default `00`. */
  readonly extensionCode: string;
  /** Event-type code the receiving platform files plant alarms under (its own catalogue); sent as an eventCode. */
  readonly eventTypeCode?: string;
  /** senderName of the national documents (default: the OASIS one). */
  readonly senderName?: string;
};

const ADMIN_CODE = /^\d{6}$/;
export const NATIONAL_ID = /^(\d{6}[0-9A-Z]{3}\d{3}\d{2})_(\d{14})_(\d)$/;

/** `ZZZZZZDDDUUUXX`: GB/T 2260 code of the site's district, then the three configured parts. */
export function nationalSenderCode(adminCode: string, s: NationalProfileSettings): string {
  if (!ADMIN_CODE.test(adminCode)) throw new RangeError(`'${adminCode}' is not a 6-digit GB/T 2260 code`);
  return `${adminCode}${s.industryCode}${s.unitCode}${s.extensionCode}`;
}

/** `YYYYMMDDhhmmss` in Beijing time (the standard's basic date-time form). */
export function beijingStamp(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000 + CST_OFFSET_MINUTES * 60_000)
    .toISOString()
    .slice(0, 19)
    .replace(/[-T:]/g, '');
}

export const nationalIdentifier = (senderCode: string, entryMs: number, n: number): string =>
  `${senderCode}_${beijingStamp(entryMs)}_${n}`;

/**
 * Hands out entry-time/serial pairs per sender code. The standard allows ten messages (N = 0…9) per unit and second;
 * an eleventh in the same second moves on to the next second, so identifiers never repeat and never go backwards
 * (the entry time may then run a few seconds behind the event time, which stays in `<sent>`). The projector is the
 * only writer (one per cluster) and seeds it with the last identifier stored per code.
 */
export class NationalSerial {
  private readonly last = new Map<string, { second: number; n: number }>();

  /** Seeds from a stored identifier (idempotent; an older one is ignored). */
  seed(identifier: string): void {
    const m = NATIONAL_ID.exec(identifier);
    if (!m) return;
    const [, code, stamp, n] = m as unknown as [string, string, string, string];
    const second = stampToSecond(stamp);
    const cur = this.last.get(code);
    if (!cur || second > cur.second || (second === cur.second && Number(n) > cur.n))
      this.last.set(code, { second, n: Number(n) });
  }

  has(senderCode: string): boolean {
    return this.last.has(senderCode);
  }

  next(senderCode: string, eventMs: number): string {
    const want = Math.floor(eventMs / 1000);
    const cur = this.last.get(senderCode);
    let next = { second: want, n: 0 };
    if (cur && cur.second >= want)
      next = cur.n < 9 ? { second: cur.second, n: cur.n + 1 } : { second: cur.second + 1, n: 0 };
    this.last.set(senderCode, next);
    return nationalIdentifier(senderCode, next.second * 1000, next.n);
  }
}

function stampToSecond(stamp: string): number {
  const part = (i: number, n: number): number => Number(stamp.slice(i, i + n));
  const utc = Date.UTC(part(0, 4), part(4, 2) - 1, part(6, 2), part(8, 2), part(10, 2), part(12, 2));
  return utc / 1000 - CST_OFFSET_MINUTES * 60;
}

export type NationalInput = {
  readonly identifier: string;
  readonly senderCode: string;
  /** National identifier of the incident's first message (Update, Cancel). */
  readonly incidentIdentifier?: string;
  readonly settings: NationalProfileSettings;
};

/** The OASIS-profile message re-addressed in the national profile (a new document; the input is not changed). */
export function toNationalProfile(a: CapAlert, p: NationalInput): CapAlert {
  if (a.msgType !== 'Alert' && p.incidentIdentifier === undefined)
    throw new Error(`national ${a.msgType} ${p.identifier} needs the national identifier of its incident`);
  const refSent = a.references?.split(',')[2];
  const zh = a.infos.find((i) => i.language === 'zh-CN') ?? a.infos[0];
  if (zh === undefined) throw new Error(`CAP message ${a.identifier} has no info block`);
  const eventCodes: CapValuePair[] = [
    ...(p.settings.eventTypeCode !== undefined
      ? [{ valueName: `${NATIONAL_PROFILE_CODE} eventType`, value: p.settings.eventTypeCode }]
      : []),
    ...zh.eventCodes,
  ];
  const { references: _r, incidents: _i, ...rest } = a;
  return {
    ...rest,
    identifier: p.identifier,
    sender: p.senderCode,
    codes: [NATIONAL_PROFILE_CODE, ...(a.codes ?? [])],
    ...(a.msgType !== 'Alert' && p.incidentIdentifier !== undefined
      ? { references: `${p.senderCode},${p.incidentIdentifier},${refSent ?? a.sent}` }
      : {}),
    incidents: p.incidentIdentifier ?? p.identifier,
    infos: [
      {
        ...zh,
        eventCodes,
        ...(p.settings.senderName !== undefined ? { senderName: p.settings.senderName } : {}),
        // the OASIS identifier travels along, so a reader of both feeds can pair the documents
        parameters: [...zh.parameters, { valueName: 'hazwatch:oasisIdentifier', value: a.identifier }],
      },
    ],
  };
}
