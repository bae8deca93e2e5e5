/** Serialises a CapAlert as CAP 1.2 XML, element order exactly as the OASIS schema's sequences. Pure. */
import { CAP_NAMESPACE, type CapAlert, type CapArea, type CapInfo, type CapValuePair } from './cap.types';
import { isCapTime } from './cap-time';
import { element, escapeXml } from '../../common/domain/xml.util';

/** Identifier and sender may not contain spaces, commas or the XML-restricted `<` and `&` (CAP 1.2 §3.2.1). */
const CAP_TOKEN = /^[^\s,<&]+$/;

export class CapFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CapFormatError';
  }
}

function pairs(indent: string, name: string, list: readonly CapValuePair[]): string {
  let out = '';
  for (const p of list)
    out += `${indent}<${name}>\n${element(indent + '  ', 'valueName', p.valueName)}${element(indent + '  ', 'value', p.value)}${indent}</${name}>\n`;
  return out;
}

function area(indent: string, a: CapArea): string {
  const i2 = indent + '  ';
  let out = `${indent}<area>\n${element(i2, 'areaDesc', a.areaDesc)}`;
  for (const c of a.circles) out += element(i2, 'circle', c);
  out += pairs(i2, 'geocode', a.geocodes);
  return out + `${indent}</area>\n`;
}

function info(indent: string, i: CapInfo): string {
  const i2 = indent + '  ';
  let out = `${indent}<info>\n${element(i2, 'language', i.language)}`;
  if (i.categories.length === 0) throw new CapFormatError('info needs at least one category');
  for (const c of i.categories) out += element(i2, 'category', c);
  out += element(i2, 'event', i.event);
  for (const r of i.responseTypes) out += element(i2, 'responseType', r);
  out +=
    element(i2, 'urgency', i.urgency) +
    element(i2, 'severity', i.severity) +
    element(i2, 'certainty', i.certainty);
  out += pairs(i2, 'eventCode', i.eventCodes);
  if (i.expires !== undefined) {
    if (!isCapTime(i.expires)) throw new CapFormatError(`expires '${i.expires}' is not a CAP date-time`);
    out += element(i2, 'expires', i.expires);
  }
  if (i.senderName !== undefined) out += element(i2, 'senderName', i.senderName);
  if (i.headline !== undefined) out += element(i2, 'headline', i.headline);
  if (i.description !== undefined) out += element(i2, 'description', i.description);
  if (i.instruction !== undefined) out += element(i2, 'instruction', i.instruction);
  out += pairs(i2, 'parameter', i.parameters);
  for (const a of i.areas) out += area(i2, a);
  return out + `${indent}</info>\n`;
}

export function renderCapXml(a: CapAlert): string {
  if (!CAP_TOKEN.test(a.identifier))
    throw new CapFormatError(`identifier '${a.identifier}' contains a space, comma, '<' or '&'`);
  if (!CAP_TOKEN.test(a.sender))
    throw new CapFormatError(`sender '${a.sender}' contains a space, comma, '<' or '&'`);
  if (!isCapTime(a.sent))
    throw new CapFormatError(`sent '${a.sent}' is not a CAP date-time (offset required, no 'Z')`);
  if (a.scope === 'Restricted' && (a.restriction === undefined || a.restriction === ''))
    throw new CapFormatError('scope Restricted needs a restriction');
  if (
    (a.msgType === 'Update' || a.msgType === 'Cancel') &&
    (a.references === undefined || a.references === '')
  )
    throw new CapFormatError(`msgType ${a.msgType} needs references`);
  const i = '  ';
  let out = `<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="${escapeXml(CAP_NAMESPACE)}">\n`;
  out += element(i, 'identifier', a.identifier) + element(i, 'sender', a.sender) + element(i, 'sent', a.sent);
  out += element(i, 'status', a.status) + element(i, 'msgType', a.msgType);
  if (a.source !== undefined) out += element(i, 'source', a.source);
  out += element(i, 'scope', a.scope);
  if (a.restriction !== undefined) out += element(i, 'restriction', a.restriction);
  for (const c of a.codes ?? []) out += element(i, 'code', c);
  if (a.note !== undefined) out += element(i, 'note', a.note);
  if (a.references !== undefined) out += element(i, 'references', a.references);
  if (a.incidents !== undefined) out += element(i, 'incidents', a.incidents);
  for (const x of a.infos) out += info(i, x);
  return out + '</alert>\n';
}
