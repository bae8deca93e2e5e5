import { parseArgs } from 'node:util';

/** One option of a command line: a flag (boolean) or an option with a value (string). */
export type CliOption = { type: 'boolean' | 'string'; short?: string };

export type CliValues = Record<string, string | boolean | undefined>;

/**
 * `node:util` parseArgs (strict, no positionals) with the wording the bench and simulator CLIs have always used:
 * `unknown option '--x'` (followed by the usage text), `--x needs a value`. Returns null when `--help` / `-h` is given.
 *
 * Two conveniences parseArgs does not have, applied to argv first:
 * - a value that starts with a single dash is a value (`--seed -7`), a token starting with `--` never is;
 * - `optionalValue` options may stand alone (`--mosquitto` or `--mosquitto /usr/sbin/mosquitto`): alone they get the
 *   given default.
 */
export function parseCli(
  argv: readonly string[],
  options: Record<string, CliOption>,
  fail: (message: string) => Error,
  usage: string,
  optionalValue: Record<string, string> = {},
): CliValues | null {
  if (argv.includes('--help') || argv.includes('-h')) return null;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    const next = argv[i + 1];
    const nextIsValue = next !== undefined && !next.startsWith('--');
    if (name !== undefined && name in optionalValue) {
      args.push(`${arg}=${nextIsValue ? next : optionalValue[name]}`);
      if (nextIsValue) i++;
    } else if (name !== undefined && options[name]?.type === 'string' && nextIsValue) {
      args.push(`${arg}=${next}`);
      i++;
    } else args.push(arg);
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw fail(cliMessage(err, usage));
  }
}

function cliMessage(err: unknown, usage: string): string {
  const text = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown }).code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const arg = /(?:option|argument) '([^']*)'/i.exec(text)?.[1] ?? text;
    return `unknown option '${arg}'\n\n${usage}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /Option '(?:-\w, )?(--[\w-]+)/.exec(text)?.[1] ?? text;
    return /does not take an argument/.test(text) ? `${flag} takes no value` : `${flag} needs a value`;
  }
  return text;
}
