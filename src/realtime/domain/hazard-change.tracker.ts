/**
 * Passes a hazard-source status on only when its live grade or four-colour level differs from the last one passed
 * for that source (or it became / stopped being uncertain) (the rule engine may recompute R on every tank reading; clients want changes).
 */
export type GradeLevel = {
  readonly sourceId: string;
  readonly grade: number;
  readonly level: string;
  readonly uncertain?: unknown;
};

export class HazardChangeTracker {
  private readonly last = new Map<string, string>();

  /** True when this status is the first for its source or its grade/level changed. */
  changed(status: GradeLevel): boolean {
    const sig = `${status.grade}|${status.level}|${status.uncertain === true ? 'u' : ''}`;
    if (this.last.get(status.sourceId) === sig) return false;
    this.last.set(status.sourceId, sig);
    return true;
  }
}
