// Learning-rate schedule: linear warmup then cosine decay to zero over the run, as Hugging Face's
// get_cosine_schedule_with_warmup, except that optimizer steps are counted from 1 so the first update is not
// taken at learning rate 0.

/** Learning rate of optimizer step `step` (1-based) of `total`. */
export function cosineWithWarmup(lr: number, step: number, total: number, warmupSteps: number): number {
  if (step <= warmupSteps) return (lr * step) / Math.max(1, warmupSteps);
  const progress = (step - warmupSteps) / Math.max(1, total - warmupSteps);
  return lr * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
}
