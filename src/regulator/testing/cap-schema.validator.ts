/**
 * Validates XML against the CAP 1.2 schema shipped in test/fixtures/cap with xmllint-wasm (libxml2 as WebAssembly:
 * no native build and no system package, so it runs identically here and in CI). Test-only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateXML } from 'xmllint-wasm';

export const CAP_XSD_PATH = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'cap', 'CAP-v1.2.xsd');

export type SchemaResult = { valid: boolean; errors: string[] };

export async function validateCap(xml: string): Promise<SchemaResult> {
  const r = await validateXML({
    xml: [{ fileName: 'message.xml', contents: xml }],
    schema: [{ fileName: 'CAP-v1.2.xsd', contents: readFileSync(CAP_XSD_PATH, 'utf8') }],
  });
  return { valid: r.valid, errors: r.errors.map((e) => e.rawMessage) };
}
