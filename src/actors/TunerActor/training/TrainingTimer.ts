/**
 * The time per step measured so far in a run, and the time left it predicts: the remaining
 * training steps at the training rate, plus the remaining validation passes at the validation rate
 * (until one has been measured, a third of a training step: evaluation has no backward pass).
 */
export class TrainingTimer {
  /** Training time of the epochs completed so far, in ms. */
  #trainMs = 0;
  #trainMsPerStep = 0;
  #evalMsPerStep = 0;

  /**
   * @param epochs Epochs of the run.
   * @param steps Training steps (micro-batches) per epoch.
   * @param validationSteps Validation steps per pass.
   */
  constructor(
    private readonly epochs: number,
    private readonly steps: number,
    private readonly validationSteps: number,
  ) {}

  /** Training time of the epochs completed so far, in ms. */
  get trainMs(): number {
    return this.#trainMs;
  }

  /** A validation pass took `ms`. */
  validated(ms: number): void {
    this.#evalMsPerStep = ms / this.validationSteps;
  }

  /** Step `step` of epoch `epoch` (from 1) has ended, `epochMs` into the epoch. */
  stepped(epoch: number, step: number, epochMs: number): void {
    this.#trainMsPerStep = (this.#trainMs + epochMs) / ((epoch - 1) * this.steps + step);
  }

  /** Epoch `epoch` (from 1) has trained, in `epochMs`. */
  epochTrained(epoch: number, epochMs: number): void {
    this.#trainMs += epochMs;
    this.#trainMsPerStep = this.#trainMs / (epoch * this.steps);
  }

  /** Time left after step `step` of epoch `epoch`, this epoch's validation pass included. */
  etaMs(epoch: number, step: number): number {
    const remainingTrain = this.steps - step + (this.epochs - epoch) * this.steps;
    const remainingValidation = (this.epochs - epoch + 1) * this.validationSteps;
    return remainingTrain * this.#trainMsPerStep + remainingValidation * (this.#evalMsPerStep || this.#trainMsPerStep / 3);
  }

  /** Time left once epoch `epoch` has trained and been validated. */
  etaAfterEpochMs(epoch: number): number {
    return Math.max(0, this.etaMs(epoch, this.steps) - this.validationSteps * this.#evalMsPerStep);
  }
}
