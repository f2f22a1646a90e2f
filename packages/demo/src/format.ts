export function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function bytes(value: number): string {
  if (value < 1024) return `${Math.round(value)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let scaled = value / 1024;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return `${scaled.toFixed(scaled < 10 ? 1 : 0)} ${units[unit]}`;
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** A histogram bucket bound as "≤ 25 ms" / "≤ 2.5 s" / "> 300 s". */
export function atMost(secondsValue: number | undefined, lastBound = 300): string {
  if (secondsValue === undefined) return 'n/a';
  if (secondsValue === Infinity) return `> ${lastBound} s`;
  return secondsValue < 1 ? `≤ ${Math.round(secondsValue * 1000 * 10) / 10} ms` : `≤ ${secondsValue} s`;
}
