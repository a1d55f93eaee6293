/**
 * Alternative ONNX lowerings of the hot training ops (PReLU, train-mode BatchNorm), chosen per
 * process. Both forms of each op compute the same values and gradients; they differ in how many
 * passes over the large early feature maps ONNX Runtime makes. The switch exists so that
 * bench/train.ts --ab can compare whole training steps in interleaved child processes: the
 * defaults are the forms that won those runs (docs/TRAINING-SPEED.md), the others are kept to
 * re-check the choice on other machines. Emit rules and VJPs read the choice when a graph is
 * built and lowered, so set it before building.
 */

/** The lowering of each switchable op. */
export interface Lowerings {
  /**
   * 'where': Where(x > 0, x, slope·x), backward Where(x > 0, g, slope·g).
   * 'min': x + (slope − 1)·min(x, 0) (a scalar Min, a per-channel affine and an Add, no broadcast),
   * backward g·mask with mask = Where(x > 0, 1, slope) built from the [C] slope.
   * 'lean': the 'min' forward with a backward in which every full-size float term depends on the
   * incoming gradient. ONNX Runtime computes the others (the mask, min(x, 0) for the slope's
   * gradient) during the forward pass and holds them until the backward: 'lean' peaks 0.7 GB lower
   * without the memory arena (MobileFaceNet, batch 64) but takes ~7% longer, and with the arena the
   * peak is the arena's either way. compileStep picks it when the arena is off (docs/TRAINING-SPEED.md).
   */
  readonly prelu: 'where' | 'min' | 'lean';
  /**
   * Both keep d = x − mean for the backward pass, dx = a·g + b·d + c per channel (ops/norm.ts).
   * 'centred': d by a broadcast Sub of the [1, C, 1, 1] mean, b·d by a broadcast Mul.
   * 'affine': both by ONNX Runtime's per-channel BatchNormalization kernel (mean 0, variance 1,
   * epsilon 0, i.e. x·scale + bias), which runs per channel plane instead of broadcasting.
   */
  readonly bn: 'centred' | 'affine';
}

/**
 * The forms used unless a bench switches them (docs/TRAINING-SPEED.md). bn 'affine' against
 * 'centred': MobileFaceNet whole steps, batch 32, 6 interleaved rounds at load average ~25, 0.90
 * (ratio of medians; per-round ratios 0.82-1.21, median 0.90). prelu 'min' against 'where': on the
 * idle machine, batch 64, 6 interleaved rounds, MobileFaceNet 0.93 (per round 0.81-1.01, median
 * 0.92) and IResNet-18 1.01 (0.90-1.06; it has 9 PReLUs to MobileFaceNet's 33), after 1.02 (per-round
 * median 0.90) at load ~25.
 */
export const DEFAULT_LOWERINGS: Lowerings = { prelu: 'min', bn: 'affine' };

let current: Lowerings = DEFAULT_LOWERINGS;

/** The lowerings in force for graphs built from now on. */
export function lowerings(): Lowerings {
  return current;
}

/**
 * Switch lowerings for graphs built from now on (missing fields keep their current value).
 * @returns the previous choice, to restore
 */
export function setLowerings(choice: Partial<Lowerings>): Lowerings {
  const previous = current;
  current = { ...current, ...choice };
  return previous;
}

const CHOICES: { readonly [K in keyof Lowerings]: readonly Lowerings[K][] } = {
  prelu: ['where', 'min', 'lean'],
  bn: ['centred', 'affine'],
};

/**
 * Parse 'prelu=min+bn=affine' (fields joined by '+'; 'default' or '' for none) into a partial choice.
 * @throws an Error naming the bad field or value and the accepted ones
 */
export function parseLowerings(spec: string): Partial<Lowerings> {
  const out: Record<string, string> = {};
  if (spec === '' || spec === 'default') return out;
  for (const field of spec.split('+')) {
    const [key, value] = field.split('=');
    const allowed = (CHOICES as Record<string, readonly string[] | undefined>)[key];
    if (!allowed)
      throw new Error(`lowering '${field}': unknown op '${key}' (known: ${Object.keys(CHOICES).join(', ')})`);
    if (!allowed.includes(value))
      throw new Error(`lowering '${field}': ${key} takes ${allowed.join(' or ')}, got '${value ?? ''}'`);
    out[key] = value;
  }
  return out as Partial<Lowerings>;
}
