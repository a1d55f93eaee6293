/**
 * Learning-rate schedules, as pure functions of the global step: the rate is fed to the step graph
 * as an input each step, so changing the schedule never recompiles anything.
 */

/** A schedule; every position is counted in optimizer steps (batches), from 0. */
export type ScheduleConfig =
  | { readonly kind: 'constant'; readonly lr: number; readonly warmupSteps?: number }
  /** lr * gamma^(number of milestones <= step) (PyTorch MultiStepLR). */
  | {
      readonly kind: 'step';
      readonly lr: number;
      readonly milestones: readonly number[];
      readonly gamma?: number;
      readonly warmupSteps?: number;
    }
  /** minLr + (lr - minLr) (1 + cos(pi p)) / 2, p the fraction of the post-warm-up steps done. */
  | { readonly kind: 'cosine'; readonly lr: number; readonly minLr?: number; readonly warmupSteps?: number }
  /** lr (1 - p)^power (InsightFace's PolyScheduler, power 2), p as for cosine. */
  | { readonly kind: 'poly'; readonly lr: number; readonly power?: number; readonly warmupSteps?: number };

/**
 * The learning rate for optimizer step `step` (0-based) of a run of `totalSteps` steps. During the
 * first `warmupSteps` steps the rate rises linearly from lr / warmupSteps to lr, as in InsightFace's
 * warm-up, so step 0 never trains at the full rate.
 */
export function learningRate(cfg: ScheduleConfig, step: number, totalSteps: number): number {
  const warm = cfg.warmupSteps ?? 0;
  if (step < warm) return (cfg.lr * (step + 1)) / warm;
  const span = Math.max(totalSteps - warm, 1);
  const p = Math.min(Math.max((step - warm) / span, 0), 1);
  switch (cfg.kind) {
    case 'constant':
      return cfg.lr;
    case 'step': {
      const passed = cfg.milestones.filter((m) => m <= step).length;
      return cfg.lr * (cfg.gamma ?? 0.1) ** passed;
    }
    case 'cosine': {
      const min = cfg.minLr ?? 0;
      return min + ((cfg.lr - min) * (1 + Math.cos(Math.PI * p))) / 2;
    }
    case 'poly':
      return cfg.lr * (1 - p) ** (cfg.power ?? 2);
  }
}

/** Throw a clear error on a schedule that cannot train. */
export function checkSchedule(cfg: ScheduleConfig): ScheduleConfig {
  if (!(cfg.lr > 0 && Number.isFinite(cfg.lr)))
    throw new Error(`schedule: lr must be a positive number, got ${cfg.lr}`);
  const warm = cfg.warmupSteps ?? 0;
  if (!(Number.isInteger(warm) && warm >= 0))
    throw new Error(`schedule: warmupSteps must be an integer >= 0, got ${warm}`);
  if (cfg.kind === 'step' && cfg.milestones.some((m) => !Number.isInteger(m) || m < 0)) {
    throw new Error(`schedule: milestones must be step numbers >= 0, got [${cfg.milestones.join(', ')}]`);
  }
  return cfg;
}
