/**
 * Calls a consumer's callback and swallows what it throws. Training callbacks run while native
 * training waits for them (or between its steps): a throwing consumer must neither reach koffi nor
 * end the training.
 */
export function callSafely(callback: () => void): void {
  try {
    callback();
  } catch {
    // The consumer's problem, not the training's.
  }
}
