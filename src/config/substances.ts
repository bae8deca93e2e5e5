/**
 * Reference data of the substances the plant model may name (pure, no I/O). Used at load time to check gas
 * detector set points against GB/T 50493-2019 (combustible: level 1 ≤ 25 %LEL, level 2 ≤ 50 %LEL; toxic: level 1 ≤
 * 100 % OEL, level 2 ≤ 200 % OEL, or ≤ 5 % / 10 % IDLH when the detector's range cannot reach the OEL) and to
 * decide which detection a substance needs. Sources and the choices made are in docs/plant-model.md.
 *
 * OELs are GBZ 2.1-2019 values in mg/m³ (MAC = ceiling, PC-TWA = 8 h time-weighted, PC-STEL = 15 min). IDLH values
 * are NIOSH's, in ppm. LEL in vol % at 25 °C.
 */

export type SubstanceRef = {
  readonly name: string;
  readonly cas: string;
  /** g/mol. */
  readonly molarMass: number;
  /** Lower explosive limit, vol %; absent when not flammable. */
  readonly lelVolPct?: number;
  /** Occupational exposure limits, mg/m³ (GBZ 2.1-2019). */
  readonly macMgM3?: number;
  readonly pcTwaMgM3?: number;
  readonly pcStelMgM3?: number;
  /** Immediately dangerous to life or health, ppm (NIOSH). */
  readonly idlhPpm?: number;
  readonly flammable: boolean;
  readonly toxic: boolean;
};

/** Molar volume of an ideal gas at 25 °C and 101.325 kPa, L/mol. */
export const MOLAR_VOLUME_25C = 24.45;

export const SUBSTANCES: Readonly<Record<string, SubstanceRef>> = {
  chlorine: {
    name: 'chlorine',
    cas: '7782-50-5',
    molarMass: 70.9,
    macMgM3: 1,
    idlhPpm: 10,
    flammable: false,
    toxic: true,
  },
  ammonia: {
    name: 'ammonia',
    cas: '7664-41-7',
    molarMass: 17.03,
    lelVolPct: 15,
    pcTwaMgM3: 20,
    pcStelMgM3: 30,
    idlhPpm: 300,
    flammable: true,
    toxic: true,
  },
  benzene: {
    name: 'benzene',
    cas: '71-43-2',
    molarMass: 78.11,
    lelVolPct: 1.2,
    pcTwaMgM3: 6,
    pcStelMgM3: 10,
    idlhPpm: 500,
    flammable: true,
    toxic: true,
  },
  'vinyl chloride': {
    name: 'vinyl chloride',
    cas: '75-01-4',
    molarMass: 62.5,
    lelVolPct: 3.6,
    pcTwaMgM3: 10,
    flammable: true,
    toxic: true,
  },
  methanol: {
    name: 'methanol',
    cas: '67-56-1',
    molarMass: 32.04,
    lelVolPct: 6.0,
    pcTwaMgM3: 25,
    pcStelMgM3: 50,
    idlhPpm: 6000,
    flammable: true,
    toxic: true,
  },
  'hydrogen peroxide': {
    name: 'hydrogen peroxide',
    cas: '7722-84-1',
    molarMass: 34.01,
    pcTwaMgM3: 1.5,
    idlhPpm: 75,
    flammable: false,
    toxic: true,
  },
  'hydrogen sulfide': {
    name: 'hydrogen sulfide',
    cas: '7783-06-4',
    molarMass: 34.08,
    lelVolPct: 4.0,
    macMgM3: 10,
    idlhPpm: 100,
    flammable: true,
    toxic: true,
  },
  'carbon monoxide': {
    name: 'carbon monoxide',
    cas: '630-08-0',
    molarMass: 28.01,
    lelVolPct: 12.5,
    pcTwaMgM3: 20,
    pcStelMgM3: 30,
    idlhPpm: 1200,
    flammable: true,
    toxic: true,
  },
  methane: {
    name: 'methane',
    cas: '74-82-8',
    molarMass: 16.04,
    lelVolPct: 5.0,
    flammable: true,
    toxic: false,
  },
  propane: {
    name: 'propane',
    cas: '74-98-6',
    molarMass: 44.1,
    lelVolPct: 2.1,
    flammable: true,
    toxic: false,
  },
  hydrogen: {
    name: 'hydrogen',
    cas: '1333-74-0',
    molarMass: 2.016,
    lelVolPct: 4.0,
    flammable: true,
    toxic: false,
  },
};

export function substanceRef(name: string | undefined): SubstanceRef | undefined {
  return name === undefined ? undefined : SUBSTANCES[name.trim().toLowerCase()];
}

/** ppm = mg/m³ × 24.45 / M (25 °C). */
export function mgM3ToPpm(mgM3: number, molarMass: number): number {
  return (mgM3 * MOLAR_VOLUME_25C) / molarMass;
}

/** mg/m³ = ppm × M / 24.45 (25 °C). */
export function ppmToMgM3(ppm: number, molarMass: number): number {
  return (ppm * molarMass) / MOLAR_VOLUME_25C;
}

/** The OEL GB/T 50493-2019 sets toxic alarms against: MAC where there is one, else PC-TWA (mg/m³). */
export function alarmOelMgM3(s: SubstanceRef): number | undefined {
  return s.macMgM3 ?? s.pcTwaMgM3;
}

/** A value in mg/m³ expressed in a detector unit ('mg/m3' or 'ppm'); undefined for %LEL. */
export function inUnit(mgM3: number, unit: string, s: SubstanceRef): number | undefined {
  if (unit === 'mg/m3') return mgM3;
  if (unit === 'ppm') return mgM3ToPpm(mgM3, s.molarMass);
  return undefined;
}

export type SetPointCeilings = { readonly level1: number; readonly level2: number; readonly basis: string };

/**
 * GB/T 50493-2019 set-point ceilings for a toxic detector of `unit` whose range tops at `spanHi`: 100 % / 200 % of
 * the OEL, or 5 % / 10 % of IDLH when the range cannot reach the OEL. Undefined when the table lacks the data.
 */
export function toxicCeilings(s: SubstanceRef, unit: string, spanHi: number): SetPointCeilings | undefined {
  const oel = alarmOelMgM3(s);
  const oelU = oel === undefined ? undefined : inUnit(oel, unit, s);
  if (oelU !== undefined && spanHi >= oelU) {
    const name = s.macMgM3 !== undefined ? 'MAC' : 'PC-TWA';
    return { level1: oelU, level2: 2 * oelU, basis: `${name} ${fmt(oelU)} ${unit}` };
  }
  if (s.idlhPpm === undefined) return undefined;
  const idlhU = unit === 'ppm' ? s.idlhPpm : unit === 'mg/m3' ? ppmToMgM3(s.idlhPpm, s.molarMass) : undefined;
  if (idlhU === undefined) return undefined;
  return {
    level1: 0.05 * idlhU,
    level2: 0.1 * idlhU,
    basis: `IDLH ${fmt(idlhU)} ${unit} (range cannot reach the OEL)`,
  };
}

/** Rounds for messages: 3 significant figures. */
export function fmt(x: number): string {
  return Number(x.toPrecision(3)).toString();
}

/** Accident scenarios a consequence zone is given for (docs/cap-profile.md). */
export type ConsequenceScenario = 'toxic' | 'fire' | 'explosion';

/**
 * Default consequence-zone radius per substance and scenario, km: the zone a CAP `<area>` names for an alarm of a
 * hazard source holding the substance (not the 500 m population ring of GB 18218's α). Planning defaults of the
 * magnitude typical for a storage-tank release (toxic: to the AEGL-2/ERPG-2 distance; fire: thermal radiation
 * 12.5 kW/m²; explosion: overpressure 0.1 bar); a site replaces them with the radii of its own filed consequence
 * analysis. Only scenarios the substance can produce are listed.
 */
export const CONSEQUENCE_RADIUS_KM: Readonly<Record<string, Partial<Record<ConsequenceScenario, number>>>> = {
  chlorine: { toxic: 3 },
  ammonia: { toxic: 1.5, fire: 0.1, explosion: 0.3 },
  benzene: { toxic: 0.5, fire: 0.2, explosion: 0.6 },
  'vinyl chloride': { toxic: 0.8, fire: 0.3, explosion: 0.8 },
  methanol: { toxic: 0.3, fire: 0.15, explosion: 0.4 },
  'hydrogen peroxide': { toxic: 0.2 },
  'hydrogen sulfide': { toxic: 2, fire: 0.1, explosion: 0.3 },
  'carbon monoxide': { toxic: 1, fire: 0.1, explosion: 0.3 },
  methane: { fire: 0.2, explosion: 0.5 },
  propane: { fire: 0.3, explosion: 0.8 },
  hydrogen: { fire: 0.15, explosion: 0.5 },
};
