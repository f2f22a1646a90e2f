import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import type pretty from 'pino-pretty';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];

/**
 * JSON lines for machines; readable lines when a person is watching a terminal.
 * `destination` is for tests; services log to stdout.
 */
export function createLogger(options: { name: string; level: LevelWithSilent; destination?: NodeJS.WritableStream; pretty?: boolean }): Logger {
  const base = { name: options.name, level: options.level };
  const destination = options.destination ?? process.stdout;
  const human = options.pretty ?? (destination === process.stdout && process.stdout.isTTY);
  if (human) return pino(base, loadPretty()({ colorize: true, destination: 1, sync: true, translateTime: 'SYS:HH:MM:ss.l' }));
  return pino(base, destination);
}

/** pino-pretty costs ~0.07 s of CPU to import: only a person at a terminal gets it (services log JSON). */
function loadPretty(): typeof pretty {
  return createRequire(import.meta.url)('pino-pretty') as typeof pretty;
}
