import { parseSize, UsageError } from '@storx-backup/service-kit';

/** A byte count flag: a size with a unit (`512MiB`, `1GiB`) or a plain number of bytes. */
export function parseByteLimit(text: string, flag: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  try {
    return parseSize(trimmed);
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}, or a number of bytes`);
  }
}

/** `1536` → `1536 bytes (1.5 KiB)`: exact bytes for scripts, a readable size for people. */
export function describeBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'] as const;
  let value = bytes;
  let unit = '';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return unit === '' ? `${bytes} bytes` : `${bytes} bytes (${value.toFixed(1)} ${unit})`;
}
