/**
 * Start-up refusal of placeholder secrets (docs/threat-model.md, "Deployment"): the committed examples
 * (.env.compose.example) say `change-me`; a deployment that kept one must not start. Pure.
 */
const PLACEHOLDER = /change[-_ ]?me/i;

/** Variables that carry secrets, and how to find the secret inside each. */
const SECRET_PARTS: ReadonlyArray<{ name: string; secret: (v: string) => string | undefined }> = [
  { name: 'DATABASE_URL', secret: (v) => /^[a-z]+:\/\/[^:/@]*:([^@]*)@/i.exec(v)?.[1] },
  { name: 'MQTT_PASSWORD', secret: (v) => v },
  { name: 'JOURNAL_ANCHOR_KEY', secret: (v) => v },
  { name: 'POSTGRES_PASSWORD', secret: (v) => v },
];

export function placeholderSecrets(
  env: Readonly<Record<string, string | undefined>>,
): Array<{ path: string; reason: string }> {
  const problems: Array<{ path: string; reason: string }> = [];
  for (const { name, secret } of SECRET_PARTS) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const s = secret(value);
    if (s !== undefined && PLACEHOLDER.test(decodeURIComponentSafe(s)))
      problems.push({
        path: name,
        reason:
          'still the placeholder "change-me" from the example file: set a real secret (openssl rand -hex 24)',
      });
  }
  return problems;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
