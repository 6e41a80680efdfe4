import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './args.js';

/**
 * The CLI's logger, on stderr (stdout is the command's own output: the URL, the chat): JSON lines
 * when stderr is not a terminal, readable lines when it is. Pretty output uses `pino-pretty` when it
 * is installed, else a small built-in formatter. Both write synchronously, so nothing is lost when
 * the process exits.
 */
export async function createCliLogger(level: LogLevel, pretty = process.stderr.isTTY === true): Promise<Logger> {
  const options = { name: 'llama-actors', level };
  if (!pretty) return pino(options, pino.destination({ fd: 2, sync: true }));
  try {
    // Optional: not a dependency of the runtime itself (a variable keeps TypeScript from requiring it).
    const name = 'pino-pretty';
    const module = (await import(name)) as { default: (options: object) => DestinationStream };
    return pino(options, module.default({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l' }));
  } catch {
    return pino(options, new PrettyDestination(process.stderr, process.stderr.hasColors?.() === true));
  }
}

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '\x1b[90m' },
  20: { label: 'DEBUG', color: '\x1b[36m' },
  30: { label: 'INFO ', color: '\x1b[32m' },
  40: { label: 'WARN ', color: '\x1b[33m' },
  50: { label: 'ERROR', color: '\x1b[31m' },
  60: { label: 'FATAL', color: '\x1b[35m' },
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

/** @internal `HH:MM:SS.mmm LEVEL message key=value …`, and an error's stack below. */
export class PrettyDestination implements DestinationStream {
  constructor(
    private readonly out: { write(text: string): unknown },
    private readonly color: boolean,
  ) {}

  write(line: string): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.out.write(line);
      return;
    }
    const { level, time, msg, pid: _pid, hostname: _hostname, name: _name, err, ...fields } = record;
    const { label, color } = LEVELS[level as number] ?? { label: String(level), color: '' };
    const clock = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 23);
    const extras = Object.entries(fields)
      .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`)
      .join(' ');
    const paint = (code: string, text: string) => (this.color && code ? `${code}${text}${RESET}` : text);
    let text = `${paint(DIM, clock)} ${paint(color, label)} ${String(msg ?? '')}${extras ? ` ${paint(DIM, extras)}` : ''}\n`;
    if (err && typeof err === 'object') {
      const { stack, message } = err as { stack?: unknown; message?: unknown };
      text += `    ${String(stack ?? message ?? JSON.stringify(err)).replaceAll('\n', '\n    ')}\n`;
    }
    this.out.write(text);
  }
}
