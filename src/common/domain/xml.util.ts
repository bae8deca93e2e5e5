/** XML text helpers for the feed builders. Pure. */

/**
 * Characters XML 1.0 cannot carry at all (C0 controls other than tab/LF/CR, lone surrogates, U+FFFE/U+FFFF). They are
 * replaced by U+FFFD rather than dropped, so a reader sees that something was there.
 */
const INVALID_XML_CHARS =
  // eslint-disable-next-line no-control-regex -- exactly the control characters XML 1.0 forbids
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escapes text for element content and attribute values (both quote kinds, so one function serves both). */
export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML_CHARS, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** `<name>escaped text</name>` with the given indentation. */
export function element(indent: string, name: string, text: string): string {
  return `${indent}<${name}>${escapeXml(text)}</${name}>\n`;
}
