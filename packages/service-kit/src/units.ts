/**
 * Durations and byte sizes as operators write them: `5s`, `500ms`, `2m`, `1h`; `4MiB`, `512KiB`,
 * `16MB`. A bare number is refused (is `30` seconds or milliseconds?), except `0`.
 */
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)$/;
const SIZE_BYTES = { B: 1, KB: 1e3, KiB: 1024, MB: 1e6, MiB: 1024 ** 2, GB: 1e9, GiB: 1024 ** 3 } as const;

/** Milliseconds of a duration such as `5s`; throws a message fit for a config error. */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  const match = DURATION.exec(text.trim());
  if (!match) throw new Error(`${JSON.stringify(text)} is not a duration; write it with a unit, for example 500ms, 5s, 2m, 1h`);
  return Math.round(Number(match[1]) * DURATION_MS[match[2] as keyof typeof DURATION_MS]);
}

/** Bytes of a size such as `4MiB`; throws a message fit for a config error. */
export function parseSize(text: string): number {
  if (text === '0') return 0;
  const match = SIZE.exec(text.trim());
  if (!match) throw new Error(`${JSON.stringify(text)} is not a size; write it with a unit, for example 512KiB, 4MiB, 1GiB`);
  return Math.round(Number(match[1]) * SIZE_BYTES[match[2] as keyof typeof SIZE_BYTES]);
}

/** `5000` → `5s`, `150` → `150ms`: for --help and logs. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** `4194304` → `4MiB`: for --help and logs. */
export function formatSize(bytes: number): string {
  for (const unit of ['GiB', 'MiB', 'KiB'] as const) {
    if (bytes >= SIZE_BYTES[unit] && bytes % SIZE_BYTES[unit] === 0) return `${bytes / SIZE_BYTES[unit]}${unit}`;
  }
  return `${bytes}B`;
}
