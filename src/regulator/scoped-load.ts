/**
 * The prologue every regulator-workflow route shares: load a record by id and answer "not found" when it is missing
 * or lies outside the caller's jurisdiction (existence is never revealed), and the review decision that needs a
 * comment when it returns the work.
 */
import { BadRequestException, NotFoundException } from '@nestjs/common';
import type { Principal } from '../auth/principal';
import type { ScopeService } from '../auth/scope.service';

export async function loadScoped<T extends { readonly siteId: string }>(
  scope: Pick<ScopeService, 'canSeeSite'>,
  p: Principal,
  what: string,
  id: string,
  load: (id: string) => Promise<T | undefined>,
): Promise<T> {
  const found = await load(id);
  if (!found || !scope.canSeeSite(p, found.siteId)) throw new NotFoundException(`${what} '${id}' not found`);
  return found;
}

/** accept | return; a return must say what is missing. */
export function reviewDecision(
  b: { readonly decision: 'accept' | 'return'; readonly comment?: string },
  what: string,
): { accept: boolean; comment: string } {
  const comment = (b.comment ?? '').trim();
  if (b.decision === 'return' && comment === '')
    throw new BadRequestException(`returning ${what} needs a comment saying what is missing`);
  return { accept: b.decision === 'accept', comment };
}
