import { ArgumentsHost, Catch, HttpException, HttpStatus, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { JsonLogger } from './logger';

const log = new JsonLogger('http');

/** Every error leaves as {statusCode, error, message} (CONTRACT §3); 5xx are logged, never leaked. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const message = typeof body === 'string' ? body : ((body as { message?: unknown }).message ?? exception.message);
      const error = typeof body === 'object' && body !== null && 'error' in body ? String((body).error) : exception.name.replace(/Exception$/, '');
      res.status(status).json({ statusCode: status, error, message });
      return;
    }
    log.error('unhandled error', { err: exception });
    res.status(HttpStatus.INTERNAL_SERVER_ERROR).json({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  }
}
