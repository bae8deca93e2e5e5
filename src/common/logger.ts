import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Logger } from 'pino';
import { currentCorrelationId } from './correlation';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Keys whose values are never written to a log line. */
const SECRET_KEY = /token|secret|password|authorization|passwd|apikey/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '***' : redact(v, depth + 1);
  return out;
}

/** Masks credentials inside a connection URL: postgres://u:secret@h → postgres://u:***@h */
export function maskUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

/**
 * Nest's own start-up chatter (one line per module, controller and route: ~100 lines) goes to debug, so `npm start`
 * ends with what an operator needs. Everything else Nest says keeps its level.
 */
const NEST_CHATTER = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'WebSocketsController',
  'NestFactory',
  'NestApplication',
]);

/** Human-readable lines on a terminal, one JSON object per line otherwise (pipes, files, log collectors). */
export type LogFormat = 'pretty' | 'json';

const COLOURS: Record<string, string> = {
  debug: '\x1b[90m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/**
 * One readable line from one JSON log line: `14:02:03.123 INFO  [context] (cid) message {other fields}`.
 * Small on purpose (no pretty-printer dependency): the JSON line stays the source of truth.
 */
export function prettyLine(json: string, colour: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, context, cid, msg, ...rest } = rec;
  const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
  const t = typeof time === 'string' ? time.slice(11, 23) : '';
  const lvl = str(level).toUpperCase().padEnd(5);
  const head = colour ? `${DIM}${t}${RESET} ${COLOURS[str(level)] ?? ''}${lvl}${RESET}` : `${t} ${lvl}`;
  const where = `${context !== undefined ? ` [${str(context)}]` : ''}${cid !== undefined ? ` (${str(cid)})` : ''}`;
  const text = typeof msg === 'string' ? msg : JSON.stringify(msg);
  const extra =
    Object.keys(rest).length > 0 ? ` ${colour ? DIM : ''}${JSON.stringify(rest)}${colour ? RESET : ''}` : '';
  return `${head}${where} ${text}${extra}\n`;
}

/** Writes through `process.stdout.write` / `process.stderr.write` at call time (synchronous for files, pipes, TTYs). */
function sink(which: 'stdout' | 'stderr', format: LogFormat): DestinationStream {
  if (format === 'json') return { write: (line: string) => void process[which].write(line) };
  const colour = process[which].isTTY === true;
  return { write: (line: string) => void process[which].write(prettyLine(line, colour)) };
}

function createRoot(format: LogFormat): Logger<never, boolean> {
  return pino(
    {
      level: 'info',
      base: undefined, // no pid/hostname: one process, and the host is the collector's business
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Second line of defence after redact(): the usual secret paths in objects that reach pino some other way.
      redact: {
        paths: [
          'token',
          'password',
          'authorization',
          '*.token',
          '*.password',
          '*.authorization',
          'headers.authorization',
        ],
        censor: '***',
      },
    },
    // warn and error to stderr, the rest to stdout (as before: service managers colour and route them apart)
    pino.multistream(
      [
        { level: 'debug', stream: sink('stdout', format) },
        { level: 'warn', stream: sink('stderr', format) },
      ],
      { dedupe: true },
    ),
  );
}

let root = createRoot(process.stdout.isTTY === true ? 'pretty' : 'json');

/**
 * The application logger (`new JsonLogger('context')` everywhere), backed by one pino logger. Also Nest's
 * LoggerService, so Nest's own lines go through the same pipe. Fields are redacted (token, password, authorization,
 * secret…) before they reach pino; the current correlation id (src/common/correlation.ts) is added as `cid`.
 */
export class JsonLogger implements LoggerService {
  static setLevel(level: LogLevel): void {
    root.level = level;
  }

  /** Switches between human-readable and JSON lines (default: pretty on a TTY, JSON otherwise). */
  static setFormat(format: LogFormat): void {
    const level = root.level;
    root = createRoot(format);
    root.level = level;
  }

  constructor(private readonly context = 'app') {}

  child(context: string): JsonLogger {
    return new JsonLogger(context);
  }

  private write(level: LogLevel, msg: unknown, fields?: Record<string, unknown>, ctx?: string): void {
    if (!root.isLevelEnabled(level)) return;
    const cid = currentCorrelationId();
    // One merging object in this key order: context, cid, msg, then the fields (log readers match `"msg","field"`).
    root[level]({
      context: ctx ?? this.context,
      ...(cid !== undefined ? { cid } : {}),
      msg: typeof msg === 'string' ? msg : redact(msg),
      ...(fields ? (redact(fields) as Record<string, unknown>) : {}),
    });
  }

  debug(msg: unknown, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
  info(msg: unknown, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  warn(msg: unknown, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  error(msg: unknown, fields?: Record<string, unknown> | string): void {
    this.write('error', msg, typeof fields === 'string' ? { trace: fields } : fields);
  }

  // Nest LoggerService signature: (message, ...optionalParams) where the last param is the context.
  log(message: unknown, ...params: unknown[]): void {
    const ctx = nestContext(params);
    this.write(ctx !== undefined && NEST_CHATTER.has(ctx) ? 'debug' : 'info', message, undefined, ctx);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, undefined, nestContext(params));
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('error', message, undefined, nestContext(params));
  }
}

function nestContext(params: unknown[]): string | undefined {
  const last = params.at(-1);
  return typeof last === 'string' ? last : undefined;
}
