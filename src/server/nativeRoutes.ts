// The native routes are split by concept (actorRoutes, sessionRoutes, modelRoutes, healthRoutes,
// registered by createServer); their shared helpers stay importable from here for the modules that
// still import them by this path.
export { asObject } from './asObject.js';
export { pipeEvents } from './pipeEvents.js';
