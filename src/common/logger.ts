import type { LoggerService } from '@nestjs/common';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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

/** One JSON object per line on stdout (stderr for warn/error). */
export class JsonLogger implements LoggerService {
  private static threshold: number = ORDER.info;

  static setLevel(level: LogLevel): void {
    JsonLogger.threshold = ORDER[level];
  }

  constructor(private readonly context = 'app') {}

  child(context: string): JsonLogger {
    return new JsonLogger(context);
  }

  private write(level: LogLevel, msg: unknown, fields?: Record<string, unknown>, ctx?: string): void {
    if (ORDER[level] < JsonLogger.threshold) return;
    const line = JSON.stringify({
      time: new Date().toISOString(),
      level,
      context: ctx ?? this.context,
      msg: typeof msg === 'string' ? msg : redact(msg),
      ...(fields ? (redact(fields) as Record<string, unknown>) : {}),
    });
    (ORDER[level] >= ORDER.warn ? process.stderr : process.stdout).write(line + '\n');
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
    this.write('info', message, undefined, typeof params.at(-1) === 'string' ? (params.at(-1) as string) : undefined);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, undefined, typeof params.at(-1) === 'string' ? (params.at(-1) as string) : undefined);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('error', message, undefined, typeof params.at(-1) === 'string' ? (params.at(-1) as string) : undefined);
  }
}
