/**
 * The learning rate of each epoch: exponential decay from `learningRate` at the first epoch to
 * `minLearningRate` at the last, constant within an epoch (as llama.cpp's own `lr_opt` does).
 *
 * A constant rate diverged after about 20 epochs on small data in the feasibility run, a decaying
 * one did not. Geometric rather than linear decay keeps the ratio between consecutive epochs
 * constant, so the rate spends as many epochs in each decade. Set `minLearningRate` equal to
 * `learningRate` for a constant rate.
 *
 * @param epoch - 0-based epoch index.
 */
export function learningRateForEpoch(
  epoch: number,
  epochs: number,
  learningRate: number,
  minLearningRate: number,
): number {
  if (epochs <= 1 || minLearningRate === learningRate) return learningRate;
  const progress = Math.min(1, Math.max(0, epoch / (epochs - 1)));
  return learningRate * (minLearningRate / learningRate) ** progress;
}
