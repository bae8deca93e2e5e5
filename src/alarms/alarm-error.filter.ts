import {
  BadRequestException,
  Catch,
  ConflictException,
  ForbiddenException,
  HttpException,
  NotFoundException,
  ServiceUnavailableException,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpErrorFilter } from '../common/http-error.filter';
import {
  AlarmActionNotJournalledError,
  AlarmForbiddenError,
  AlarmNotFoundError,
  AlarmQueryError,
  AlarmsNotReadyError,
  ReplayTooLargeError,
} from './alarm.errors';
import { AlarmTransitionError } from './domain/alarm-transition.error';

/** Alarm-module errors → HTTP: illegal transition 409 (403/400 for role/input), out of scope 404, still loading 503. */
export function toHttpException(err: unknown): unknown {
  if (err instanceof HttpException) return err;
  if (err instanceof AlarmTransitionError) {
    switch (err.kind) {
      case 'conflict':
        return new ConflictException(err.message);
      case 'forbidden':
        return new ForbiddenException(err.message);
      case 'invalid':
        return new BadRequestException(err.message);
    }
  }
  if (err instanceof AlarmNotFoundError) return new NotFoundException(err.message);
  if (err instanceof AlarmForbiddenError) return new ForbiddenException(err.message);
  if (err instanceof AlarmQueryError) return new BadRequestException(err.message);
  if (err instanceof AlarmsNotReadyError) return new ServiceUnavailableException(err.message);
  if (err instanceof AlarmActionNotJournalledError)
    return err.refused ? new ConflictException(err.message) : new ServiceUnavailableException(err.message);
  if (err instanceof ReplayTooLargeError) return new BadRequestException(err.message);
  return err;
}

@Catch()
export class AlarmErrorFilter implements ExceptionFilter {
  private readonly inner = new HttpErrorFilter();
  catch(exception: unknown, host: ArgumentsHost): void {
    this.inner.catch(toHttpException(exception), host);
  }
}
