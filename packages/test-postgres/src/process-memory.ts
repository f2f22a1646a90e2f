import { readFile } from 'node:fs/promises';

/** A live process's peak resident set size (Linux `VmHWM`), in bytes. */
export async function peakRssBytes(pid: number): Promise<number> {
  return (await statusKilobytes(pid, 'VmHWM')) * 1024;
}

/** A live process's resident set size now (Linux `VmRSS`), in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  return (await statusKilobytes(pid, 'VmRSS')) * 1024;
}

async function statusKilobytes(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}
