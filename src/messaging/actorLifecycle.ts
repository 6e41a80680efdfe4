import { createActor, setup, type Actor as XstateActor } from 'xstate';

/** The lifecycle states of a registered actor. */
export const ActorStatus = {
  Starting: 'starting',
  Running: 'running',
  Restarting: 'restarting',
  Stopping: 'stopping',
  Stopped: 'stopped',
} as const;
export type ActorStatus = (typeof ActorStatus)[keyof typeof ActorStatus];

/** @internal Events that move an actor through its lifecycle. */
export const LifecycleEvent = {
  Started: 'STARTED',
  Failed: 'FAILED',
  Stop: 'STOP',
  Stopped: 'STOPPED',
} as const;

type LifecycleMachineEvent = { type: (typeof LifecycleEvent)[keyof typeof LifecycleEvent] };

/**
 * @internal The actor lifecycle as an xstate machine, so illegal moves (starting a stopped actor,
 * restarting one that is stopping) are simply not transitions, whatever order async work ends in.
 */
export const actorLifecycleMachine = setup({
  types: { events: {} as LifecycleMachineEvent },
}).createMachine({
  id: 'actor-lifecycle',
  initial: ActorStatus.Starting,
  states: {
    [ActorStatus.Starting]: {
      on: {
        [LifecycleEvent.Started]: ActorStatus.Running,
        [LifecycleEvent.Failed]: ActorStatus.Restarting,
        [LifecycleEvent.Stop]: ActorStatus.Stopping,
      },
    },
    [ActorStatus.Running]: {
      on: {
        [LifecycleEvent.Failed]: ActorStatus.Restarting,
        [LifecycleEvent.Stop]: ActorStatus.Stopping,
      },
    },
    [ActorStatus.Restarting]: {
      on: {
        [LifecycleEvent.Started]: ActorStatus.Running,
        [LifecycleEvent.Stop]: ActorStatus.Stopping,
      },
    },
    [ActorStatus.Stopping]: {
      on: { [LifecycleEvent.Stopped]: ActorStatus.Stopped },
    },
    [ActorStatus.Stopped]: { type: 'final' },
  },
});

/** @internal */
export type LifecycleActor = XstateActor<typeof actorLifecycleMachine>;

/** @internal */
export function createLifecycle(): LifecycleActor {
  return createActor(actorLifecycleMachine).start();
}
