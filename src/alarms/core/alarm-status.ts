import { BehaviorSubject, type Observable } from 'rxjs';
import type { Clock } from '../../common/clock';
import type { FloodTracker } from '../domain/flood.tracker';
import type { AlarmJournalWriter } from './alarm-journal.writer';
import type { AlarmSystemStatus } from './alarm-service.types';

/** Readiness, storage degradation and floods, as one status that `status$` pushes on change. */
export class AlarmStatusTracker {
  private readonly subject: BehaviorSubject<AlarmSystemStatus>;
  private floodSites = '';
  readonly status$: Observable<AlarmSystemStatus>;

  constructor(
    private readonly clock: Clock,
    private readonly flood: FloodTracker,
    private readonly writer: AlarmJournalWriter,
    private readonly isReady: () => boolean,
  ) {
    this.subject = new BehaviorSubject<AlarmSystemStatus>(this.build());
    this.status$ = this.subject.asObservable();
  }

  build(): AlarmSystemStatus {
    const q = this.writer.queueState();
    const walError = this.writer.walError;
    return {
      ready: this.isReady(),
      storageDegraded: q.degraded || walError !== undefined,
      pendingWrites: q.pending,
      seq: this.writer.seq,
      journalledSeq: q.writtenSeq,
      ...(q.lastError ? { lastError: q.lastError } : {}),
      ...(walError !== undefined ? { walError } : {}),
      floods: this.flood.all(this.clock.now()).filter((f) => f.flood),
    };
  }

  /** Emits on a change of readiness, degradation or the set of flooding sites (not on every pending count). */
  emit(force = false): void {
    const s = this.build();
    const prev = this.subject.getValue();
    const sites = s.floods.map((f) => f.siteId).join(',');
    if (
      force ||
      prev.ready !== s.ready ||
      prev.storageDegraded !== s.storageDegraded ||
      sites !== this.floodSites
    ) {
      this.floodSites = sites;
      this.subject.next(s);
    }
  }

  complete(): void {
    this.subject.complete();
  }
}
