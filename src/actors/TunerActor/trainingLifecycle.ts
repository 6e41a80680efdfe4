import { createActor, setup, type Actor as XstateActor } from 'xstate';
import { TrainingSessionState } from './types.js';

/** @internal Events of a training session's lifecycle. */
export const TrainingLifecycleEvent = {
  Prepared: 'PREPARED',
  Trained: 'TRAINED',
  Evaluated: 'EVALUATED',
  Stop: 'STOP',
  Fail: 'FAIL',
} as const;

type Event = { type: (typeof TrainingLifecycleEvent)[keyof typeof TrainingLifecycleEvent] };

const stopOrFail = {
  [TrainingLifecycleEvent.Stop]: TrainingSessionState.Stopped,
  [TrainingLifecycleEvent.Fail]: TrainingSessionState.Failed,
} as const;

/**
 * @internal preparing → training → evaluating → completed; any of the first three → stopped or
 * failed. The three ends are final: a trainer message that arrives after a stop cannot revive it.
 */
export const trainingLifecycleMachine = setup({ types: { events: {} as Event } }).createMachine({
  id: 'training-session',
  initial: TrainingSessionState.Preparing,
  states: {
    [TrainingSessionState.Preparing]: { on: { [TrainingLifecycleEvent.Prepared]: TrainingSessionState.Training, ...stopOrFail } },
    [TrainingSessionState.Training]: { on: { [TrainingLifecycleEvent.Trained]: TrainingSessionState.Evaluating, ...stopOrFail } },
    [TrainingSessionState.Evaluating]: { on: { [TrainingLifecycleEvent.Evaluated]: TrainingSessionState.Completed, ...stopOrFail } },
    [TrainingSessionState.Completed]: { type: 'final' },
    [TrainingSessionState.Stopped]: { type: 'final' },
    [TrainingSessionState.Failed]: { type: 'final' },
  },
});

/** @internal */
export type TrainingLifecycle = XstateActor<typeof trainingLifecycleMachine>;

/** @internal Starts a session's machine; `onChange` gets every state it enters. */
export function createTrainingLifecycle(onChange?: (state: TrainingSessionState) => void): TrainingLifecycle {
  const actor = createActor(trainingLifecycleMachine);
  if (onChange) actor.subscribe((snapshot) => onChange(snapshot.value as TrainingSessionState));
  return actor.start();
}
