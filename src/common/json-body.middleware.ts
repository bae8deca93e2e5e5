import { AsyncResource } from 'node:async_hooks';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { JsonPrescan, strictNumberReviver, UnsafeNumberError } from './domain/json-prescan';
import { JsonLogger } from './logger';

/** A body limit for the requests whose method and path match. */
export type BodyRoute = { readonly method: string; readonly path: RegExp; readonly limitBytes: number };

export type JsonBodyOptions = {
  /** Limit for every request no route names (commands: a few KiB). */
  readonly defaultLimitBytes: number;
  readonly routes: readonly BodyRoute[];
  /** Deepest `[`/`{` nesting accepted; deeper bodies are refused while they arrive, before any parsing. */
  readonly maxDepth: number;
};

/** Commands (ack, shelve, …) carry a comment or a reason: 16 KiB is generous. */
export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024;
/** Anchors for `POST /api/journal/verify` (about 250 bytes each): up to ~4 000 per request. */
export const JOURNAL_VERIFY_BODY_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_MAX_JSON_DEPTH = 32;

export const DEFAULT_JSON_BODY_OPTIONS: JsonBodyOptions = {
  defaultLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
  routes: [
    { method: 'POST', path: /^\/api\/journal\/verify\/?$/, limitBytes: JOURNAL_VERIFY_BODY_LIMIT_BYTES },
  ],
  maxDepth: DEFAULT_MAX_JSON_DEPTH,
};

const log = new JsonLogger('http');

const REASON: Record<number, string> = {
  400: 'Bad Request',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
};

/** Answers with the usual error shape and closes the connection (the rest of the body is not read). */
function refuse(req: Request, res: Response, status: 400 | 413 | 415, message: string): void {
  log.warn('request refused', { method: req.method, path: req.path, ip: req.ip, status, reason: message });
  if (res.headersSent) return;
  res.setHeader('Connection', 'close');
  res.status(status).json({ statusCode: status, error: REASON[status], message });
  // Let the kernel drop what the client still sends; the response is already on its way.
  req.resume();
}

function limitFor(opts: JsonBodyOptions, req: Request): number {
  for (const r of opts.routes) if (r.method === req.method && r.path.test(req.path)) return r.limitBytes;
  return opts.defaultLimitBytes;
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * Replaces the framework's body parser (docs/threat-model.md, "Request bodies"): per-route size limits checked on
 * Content-Length before reading and again while reading, a nesting-depth and NUL pre-scan of the raw bytes as they
 * arrive, then JSON.parse with a reviver that refuses unsafe integers. Every refusal is a clean 400/413/415 with the
 * `{statusCode, error, message}` shape and one warn line without a stack — also for requests without a token, since
 * this runs before authentication. A NUL in the URL is refused here too (PostgreSQL text cannot hold it).
 */
export function jsonBodyMiddleware(opts: JsonBodyOptions = DEFAULT_JSON_BODY_OPTIONS): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.url.includes('%00') || req.url.includes('\0'))
      return refuse(req, res, 400, 'NUL characters are not allowed in the URL');
    const lengthHeader = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (lengthHeader === undefined && !chunked) {
      req.body = {};
      return next();
    }
    const declared = lengthHeader === undefined ? undefined : Number(lengthHeader);
    if (declared === 0) {
      req.body = {};
      return next();
    }
    const limit = limitFor(opts, req);
    if (declared !== undefined && (!Number.isFinite(declared) || declared > limit))
      return refuse(req, res, 413, `request body larger than ${limit} bytes`);
    if (!isJson(req.headers['content-type']))
      return refuse(req, res, 415, 'request bodies must be application/json');

    const scan = new JsonPrescan(opts.maxDepth);
    const chunks: Buffer[] = [];
    let received = 0;
    let done = false;
    const stop = (status: 400 | 413, message: string): void => {
      done = true;
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      refuse(req, res, status, message);
    };
    const onData = (chunk: Buffer): void => {
      if (done) return;
      received += chunk.length;
      if (received > limit) return stop(413, `request body larger than ${limit} bytes`);
      const problem = scan.push(chunk);
      if (problem?.kind === 'too_deep') return stop(400, `JSON nested deeper than ${opts.maxDepth} levels`);
      if (problem?.kind === 'nul') return stop(400, 'NUL characters are not allowed in JSON bodies');
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (done) return;
      done = true;
      const text = Buffer.concat(chunks, received).toString('utf8');
      if (text.trim() === '') {
        req.body = {};
        return next();
      }
      try {
        req.body = JSON.parse(text, strictNumberReviver) as unknown;
      } catch (err) {
        return refuse(
          req,
          res,
          400,
          err instanceof UnsafeNumberError ? err.message : 'request body is not valid JSON',
        );
      }
      next();
    };
    // Stream events run in the socket's async context: bind them to the request's (its correlation id, for logs).
    req.on('data', AsyncResource.bind(onData));
    req.on('end', AsyncResource.bind(onEnd));
    req.on('error', () => {
      done = true; // client went away mid-body: nothing to answer
    });
  };
}
