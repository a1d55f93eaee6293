/**
 * Head configurations: the plain softmax classifier and the combined angular margin family
 * (NormFace, SphereFace, CosFace, ArcFace, combined, sub-centre ArcFace) as one typed config.
 */

/** Plain fully connected classifier: logits = x W^T (+ b), no normalisation, no margin. */
export interface SoftmaxHeadConfig {
  readonly kind: 'softmax';
  /** Whether the head has a bias b [C] (default true). */
  readonly bias: boolean;
}

/**
 * Combined margin head: target logit s * (cos(m1 * theta + m2) - m3), other logits s * cos(theta_j),
 * theta the angle between the L2-normalised embedding and class centre.
 */
export interface MarginHeadConfig {
  readonly kind: 'margin';
  /** Logit scale (the radius of the hypersphere). */
  readonly s: number;
  /** Multiplicative angular margin (SphereFace); 1 = none. */
  readonly m1: number;
  /** Additive angular margin in radians (ArcFace); 0 = none. */
  readonly m2: number;
  /** Additive cosine margin (CosFace); 0 = none. */
  readonly m3: number;
  /** Sub-centres per class (sub-centre ArcFace); 1 = one centre per class. */
  readonly subCenters: number;
  /**
   * Apply the angular margin only where cos(theta) > 0 (InsightFace's easy margin); otherwise
   * InsightFace's fall-back s * (cos(theta) - m2 sin(m2) - m3) is used where m1 theta + m2 > pi.
   */
  readonly easyMargin: boolean;
}

export type HeadConfig = SoftmaxHeadConfig | MarginHeadConfig;

export type PresetName =
  'softmax' | 'normface' | 'sphereface' | 'cosface' | 'arcface' | 'combined' | 'subcenter-arcface';

const margin = (over: Partial<Omit<MarginHeadConfig, 'kind'>>): MarginHeadConfig =>
  checkConfig({ kind: 'margin', s: 64, m1: 1, m2: 0, m3: 0, subCenters: 1, easyMargin: false, ...over });

/**
 * Named presets with InsightFace's usual values; every field can be overridden, e.g.
 * `presets.arcface({ s: 30, m2: 0.4 })`.
 */
export const presets = {
  /** Plain FC + softmax with bias. */
  softmax: (over: Partial<Omit<SoftmaxHeadConfig, 'kind'>> = {}): SoftmaxHeadConfig => ({
    kind: 'softmax',
    bias: true,
    ...over,
  }),
  /** NormFace: normalised cosine logits scaled by s, no margin. */
  normface: (over: Partial<Omit<MarginHeadConfig, 'kind'>> = {}) => margin({ ...over }),
  /** SphereFace-style multiplicative angular margin, cos(m1 theta). */
  sphereface: (over: Partial<Omit<MarginHeadConfig, 'kind'>> = {}) => margin({ m1: 1.35, ...over }),
  /** CosFace: cos(theta) - m3. */
  cosface: (over: Partial<Omit<MarginHeadConfig, 'kind'>> = {}) => margin({ m3: 0.4, ...over }),
  /** ArcFace: cos(theta + m2), s = 64, m2 = 0.5. */
  arcface: (over: Partial<Omit<MarginHeadConfig, 'kind'>> = {}) => margin({ m2: 0.5, ...over }),
  /** Combined margin (m1, m2, m3) = (1, 0.3, 0.2). */
  combined: (over: Partial<Omit<MarginHeadConfig, 'kind'>> = {}) => margin({ m2: 0.3, m3: 0.2, ...over }),
  /** Sub-centre ArcFace, k = 3 centres per class. */
  'subcenter-arcface': (over: Partial<Omit<MarginHeadConfig, 'kind'>> = {}) =>
    margin({ m2: 0.5, subCenters: 3, ...over }),
} as const satisfies Record<PresetName, (over?: never) => HeadConfig>;

/** A preset by name (for CLI flags and config files). */
export function headPreset(name: PresetName): HeadConfig {
  const make = presets[name] as (() => HeadConfig) | undefined;
  if (!make) throw new Error(`unknown head '${String(name)}' (known: ${Object.keys(presets).join(', ')})`);
  return make();
}

/** Throw a clear error on values that cannot make a head; returns the config unchanged. */
export function checkConfig<C extends HeadConfig>(cfg: C): C {
  if (cfg.kind === 'softmax') return cfg;
  const bad = (what: string): never => {
    throw new Error(`margin head: ${what}`);
  };
  if (!(cfg.s > 0 && Number.isFinite(cfg.s))) bad(`scale s must be a positive number, got ${cfg.s}`);
  if (!(cfg.m1 > 0 && Number.isFinite(cfg.m1))) bad(`m1 must be a positive number, got ${cfg.m1}`);
  if (!(cfg.m2 >= 0 && cfg.m2 < Math.PI)) bad(`m2 must be in [0, pi) radians, got ${cfg.m2}`);
  if (!Number.isFinite(cfg.m3)) bad(`m3 must be a finite number, got ${cfg.m3}`);
  if (!(Number.isInteger(cfg.subCenters) && cfg.subCenters >= 1)) {
    bad(`subCenters must be an integer >= 1, got ${cfg.subCenters}`);
  }
  return cfg;
}
