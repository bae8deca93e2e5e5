import { config as rxConfig } from 'rxjs';
import { JsonLogger } from './logger';

/**
 * RxJS reports an error thrown inside a subscriber's `next` asynchronously, by default as an uncaught exception that
 * would kill the process. In a monitoring server one faulty consumer must not stop intake: log it loudly instead.
 * `onError` lets the caller count it in metrics.
 */
export function installRxSafetyNet(onError: (err: unknown) => void = () => undefined): void {
  const log = new JsonLogger('rxjs');
  rxConfig.onUnhandledError = (err: unknown) => {
    log.error('unhandled error in a stream subscriber (isolated; the stream continues)', { err });
    onError(err);
  };
}
