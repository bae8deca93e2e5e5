/**
 * Names for readers of the feeds (docs/cap-profile.md, "Jurisdiction names and codes"): the enterprise, hazard source
 * and jurisdiction as people know them (天津渤海化工有限公司, 液氯储罐区, 天津市滨海新区…), next to the ids.
 */
import { jurisdictionView } from '../config/admin-divisions';
import type { AppConfig } from '../config/app-config';

export type PlaceNames = {
  readonly site: { readonly id: string; readonly name: string };
  readonly source?: { readonly id: string; readonly name: string };
  readonly jurisdiction: { readonly path: string; readonly name: string; readonly adminCode?: string };
};

export function placeNames(plant: AppConfig['plant'], siteId: string, sourceId?: string): PlaceNames {
  const site = plant.siteById.get(siteId);
  const source = sourceId !== undefined ? plant.sourceById.get(sourceId) : undefined;
  const path = site?.jurisdiction ?? '';
  const j = site ? jurisdictionView(plant.jurisdictionByPath, path) : {};
  return {
    site: { id: siteId, name: site?.name ?? siteId },
    ...(sourceId !== undefined ? { source: { id: sourceId, name: source?.name ?? sourceId } } : {}),
    jurisdiction: {
      path,
      name: j.jurisdictionName ?? path,
      ...(j.adminCode !== undefined ? { adminCode: j.adminCode } : {}),
    },
  };
}

/** One line for an Atom summary: `天津市滨海新区南港工业区 天津渤海化工有限公司 液氯储罐区`. */
export const placeLine = (p: PlaceNames): string =>
  [p.jurisdiction.name, p.site.name, p.source?.name].filter((x) => x !== undefined && x !== '').join(' ');
