import { ArgumentsHost, Catch, HttpException, HttpStatus, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { JsonLogger } from './logger';

const log = new JsonLogger('http');

/** Every error leaves as {statusCode, error, message} (docs/contract.md §3); 5xx are logged, never leaked. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const message =
        typeof body === 'string' ? body : ((body as { message?: unknown }).message ?? exception.message);
      const error =
        typeof body === 'object' && body !== null && 'error' in body
          ? String(body.error)
          : exception.name.replace(/Exception$/, '');
      res.status(status).json({ statusCode: status, error, message });
      return;
    }
    const client = clientError(exception);
    if (client !== undefined) {
      // The client's fault, not the server's: a clean 4xx, one warn line, no stack.
      const req = host.switchToHttp().getRequest<Request>();
      log.warn('request refused', {
        method: req.method,
        path: req.path,
        ip: req.ip,
        status: client.status,
        reason: client.message,
      });
      res
        .status(client.status)
        .json({ statusCode: client.status, error: client.error, message: client.message });
      return;
    }
    log.error('unhandled error', { err: exception });
    res
      .status(HttpStatus.INTERNAL_SERVER_ERROR)
      .json({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  }
}

/** PostgreSQL data exceptions that only a client's input can cause (the values come from the request). */
const PG_CLIENT_ERRORS: Record<string, string> = {
  '22021': 'invalid characters (NUL or invalid UTF-8) in the request',
  '22P05': 'invalid characters (NUL or invalid UTF-8) in the request',
  '22003': 'a number in the request is out of range',
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  411: 'Length Required',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
};

/**
 * A 4xx for errors that are the client's: http-errors style errors with an exposed 4xx status (body readers, Express)
 * and PostgreSQL input errors (NUL bytes, numbers out of range). Anything else stays a logged 500.
 */
export function clientError(err: unknown): { status: number; error: string; message: string } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as {
    status?: unknown;
    statusCode?: unknown;
    expose?: unknown;
    code?: unknown;
    message?: unknown;
  };
  const status =
    typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500 && e.expose === true) {
    const message = typeof e.message === 'string' ? e.message : 'bad request';
    return { status, error: STATUS_TEXT[status] ?? 'Bad Request', message };
  }
  if (typeof e.code === 'string' && PG_CLIENT_ERRORS[e.code] !== undefined)
    return { status: 400, error: 'Bad Request', message: PG_CLIENT_ERRORS[e.code] as string };
  return undefined;
}
