/** Who is calling: resolved from a bearer token. Shared by HTTP guards, the WebSocket gateway and the journal. */
/** `video`: a video-analytics system that reports operator-off-post events for its enterprises, nothing else. */
export type Role = 'operator' | 'supervisor' | 'regulator' | 'admin' | 'video';

export const ROLES: readonly Role[] = ['operator', 'supervisor', 'regulator', 'admin', 'video'];

export type Principal = {
  readonly tokenId: string;
  /** Human label of the token (e.g. "Binhai ESB", "control room bohai-chem"): written to the journal as "who". */
  readonly name: string;
  readonly role: Role;
  /**
   * Jurisdiction path prefix, e.g. `tianjin/binhai`. A site's full path is `${site.jurisdiction}/${site.id}`, so a scope
   * can also name one enterprise (`tianjin/binhai/nangang/bohai-chem`). An empty scope covers everything.
   */
  readonly scope: string;
};

/** Segment-aware prefix match: `tianjin/bin` does not cover `tianjin/binhai`. */
export function scopeCovers(scope: string, sitePath: string): boolean {
  if (scope === '') return true;
  return sitePath === scope || sitePath.startsWith(scope + '/');
}

export const sitePath = (site: { id: string; jurisdiction: string }): string =>
  `${site.jurisdiction}/${site.id}`;
