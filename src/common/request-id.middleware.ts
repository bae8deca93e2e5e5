import type { NextFunction, Request, Response } from 'express';
import { requestIdFrom, withCorrelationId } from './correlation';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * First middleware of the app: every HTTP request gets a correlation id — the client's `X-Request-Id` if it is
 * acceptable, else a new UUID — echoed in the response header and carried into every log line of the request.
 */
export function requestIdMiddleware() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = requestIdFrom(req.headers['x-request-id']);
    res.setHeader(REQUEST_ID_HEADER, id);
    withCorrelationId(id, () => next());
  };
}
