/** The subset of the OASIS CAP 1.2 alert message model hazwatch writes (names as in the standard). Pure types. */

export const CAP_NAMESPACE = 'urn:oasis:names:tc:emergency:cap:1.2';

export type CapStatus = 'Actual' | 'Exercise' | 'System' | 'Test' | 'Draft';
export type CapMsgType = 'Alert' | 'Update' | 'Cancel' | 'Ack' | 'Error';
export type CapScope = 'Public' | 'Restricted' | 'Private';
export type CapCategory =
  | 'Geo'
  | 'Met'
  | 'Safety'
  | 'Security'
  | 'Rescue'
  | 'Fire'
  | 'Health'
  | 'Env'
  | 'Transport'
  | 'Infra'
  | 'CBRNE'
  | 'Other';
export type CapResponseType =
  'Shelter' | 'Evacuate' | 'Prepare' | 'Execute' | 'Avoid' | 'Monitor' | 'Assess' | 'AllClear' | 'None';
export type CapUrgency = 'Immediate' | 'Expected' | 'Future' | 'Past' | 'Unknown';
export type CapSeverity = 'Extreme' | 'Severe' | 'Moderate' | 'Minor' | 'Unknown';
export type CapCertainty = 'Observed' | 'Likely' | 'Possible' | 'Unlikely' | 'Unknown';

export type CapValuePair = { readonly valueName: string; readonly value: string };

export type CapArea = {
  readonly areaDesc: string;
  /** `lat,lon radiusKm` (WGS 84). */
  readonly circles: readonly string[];
  readonly geocodes: readonly CapValuePair[];
};

export type CapInfo = {
  readonly language: string;
  readonly categories: readonly CapCategory[];
  readonly event: string;
  readonly responseTypes: readonly CapResponseType[];
  readonly urgency: CapUrgency;
  readonly severity: CapSeverity;
  readonly certainty: CapCertainty;
  readonly eventCodes: readonly CapValuePair[];
  readonly expires?: string;
  readonly senderName?: string;
  readonly headline?: string;
  readonly description?: string;
  readonly instruction?: string;
  readonly parameters: readonly CapValuePair[];
  readonly areas: readonly CapArea[];
};

export type CapAlert = {
  readonly identifier: string;
  readonly sender: string;
  /** CAP date-time with offset (cap-time.ts). */
  readonly sent: string;
  readonly status: CapStatus;
  readonly msgType: CapMsgType;
  readonly source?: string;
  readonly scope: CapScope;
  /** Required when scope is Restricted. */
  readonly restriction?: string;
  /** `<code>` elements: special handling codes, e.g. the national profile's standard (cap-national.profile.ts). */
  readonly codes?: readonly string[];
  readonly note?: string;
  /** Space-separated `sender,identifier,sent` triples of the messages this one refers to. */
  readonly references?: string;
  readonly incidents?: string;
  readonly infos: readonly CapInfo[];
};
