import { withoutValues } from '../apply/database-errors.js';
import { boundedText, LOG_TEXT_LIMIT } from '../bounded-text.js';

/**
 * An error as the log may hold it. pino's own serializer appends every cause's message and
 * copies every property, so a PostgreSQL error would bring its values (`invalid input syntax
 * for type uuid: "…"`, DETAIL `Key (id)=(…)`) into the log: here the causes are left out
 * (our errors already carry what matters of them), a database message has its value withheld,
 * and every text is bounded.
 */
export function loggableError(error: unknown): { type: string; code?: string; message: string; stack?: string } {
  if (!(error instanceof Error)) return { type: typeof error, message: boundedText(String(error)) };
  const code = (error as { code?: unknown }).code;
  const fromDatabase = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
  const message = fromDatabase ? withoutValues(error.message) : boundedText(error.message);
  // The stack's first line repeats the message: keep only the frames.
  const frames = error.stack?.split('\n').filter((line) => line.startsWith('    at ')).join('\n');
  return { type: error.name, ...(typeof code === 'string' ? { code } : {}), message, ...(frames ? { stack: boundedText(frames, 4 * LOG_TEXT_LIMIT) } : {}) };
}
