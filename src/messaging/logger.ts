import { pino, type Logger } from 'pino';

/**
 * @internal The logger used when none is injected: level from `LLAMA_ACTORS_LOG_LEVEL`, else
 * `silent` under vitest and `warn` elsewhere, so a library embedded in an app stays quiet.
 */
export function defaultLogger(): Logger {
  const level = process.env.LLAMA_ACTORS_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'warn');
  return pino({ name: 'llama-actors', level });
}
