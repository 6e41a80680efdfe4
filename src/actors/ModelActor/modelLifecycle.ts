import { createActor, setup, type Actor as XstateActor } from 'xstate';
import { ModelLifecycleState } from './types.js';

/** @internal Events of the model lifecycle. */
export const ModelLifecycleEvent = {
  Load: 'LOAD',
  Loaded: 'LOADED',
  Fail: 'FAIL',
  Unload: 'UNLOAD',
  Dispose: 'DISPOSE',
} as const;

type Event = { type: (typeof ModelLifecycleEvent)[keyof typeof ModelLifecycleEvent] };

/**
 * @internal unloaded → loading → ready | failed; ready or failed → unloaded (stop, before a
 * restart) or disposed. The machine makes the order of async endings irrelevant: a load that
 * finishes after a dispose cannot bring the model back.
 */
export const modelLifecycleMachine = setup({ types: { events: {} as Event } }).createMachine({
  id: 'model-lifecycle',
  initial: ModelLifecycleState.Unloaded,
  states: {
    [ModelLifecycleState.Unloaded]: {
      on: { [ModelLifecycleEvent.Load]: ModelLifecycleState.Loading, [ModelLifecycleEvent.Dispose]: ModelLifecycleState.Disposed },
    },
    [ModelLifecycleState.Loading]: {
      on: {
        [ModelLifecycleEvent.Loaded]: ModelLifecycleState.Ready,
        [ModelLifecycleEvent.Fail]: ModelLifecycleState.Failed,
        [ModelLifecycleEvent.Unload]: ModelLifecycleState.Unloaded,
        [ModelLifecycleEvent.Dispose]: ModelLifecycleState.Disposed,
      },
    },
    [ModelLifecycleState.Ready]: {
      on: { [ModelLifecycleEvent.Unload]: ModelLifecycleState.Unloaded, [ModelLifecycleEvent.Dispose]: ModelLifecycleState.Disposed },
    },
    [ModelLifecycleState.Failed]: {
      on: {
        [ModelLifecycleEvent.Load]: ModelLifecycleState.Loading,
        [ModelLifecycleEvent.Unload]: ModelLifecycleState.Unloaded,
        [ModelLifecycleEvent.Dispose]: ModelLifecycleState.Disposed,
      },
    },
    [ModelLifecycleState.Disposed]: { type: 'final' },
  },
});

/** @internal */
export type ModelLifecycle = XstateActor<typeof modelLifecycleMachine>;

/** @internal */
export function createModelLifecycle(inspect?: (state: ModelLifecycleState) => void): ModelLifecycle {
  const actor = createActor(modelLifecycleMachine);
  if (inspect) actor.subscribe((snapshot) => inspect(snapshot.value as ModelLifecycleState));
  return actor.start();
}
