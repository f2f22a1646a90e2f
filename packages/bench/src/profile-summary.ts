import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) that self time needs. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  /** Microseconds between consecutive samples. */
  timeDeltas: number[];
}

export interface SelfTime {
  /** `function location:line`. */
  name: string;
  /** Package or area the code belongs to: a workspace package, an npm package, `node`, `(garbage collector)`, `V8/native`. */
  area: string;
  ms: number;
  /** The functions it was called from, with the self time spent under each, most first. */
  callers: { name: string; ms: number }[];
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  /** Everything but idle. */
  busyMs: number;
  functions: SelfTime[];
  areas: { area: string; ms: number }[];
}

/** Self time per function (name + file + line) and per area, from the samples. */
export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const byNode = new Map<number, number>();
  // A sample lasts until the next one (as Chrome DevTools counts it).
  for (let index = 0; index < profile.samples.length; index += 1) {
    const micros = profile.timeDeltas[index + 1] ?? 0;
    byNode.set(profile.samples[index]!, (byNode.get(profile.samples[index]!) ?? 0) + Math.max(0, micros));
  }
  const functions = new Map<string, SelfTime & { byCaller: Map<string, number> }>();
  const areas = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  for (const [id, micros] of byNode) {
    const frame = frames.get(id);
    if (frame === undefined) continue;
    const ms = micros / 1000;
    totalMs += ms;
    if (frame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const area = areaOf(frame.url, frame.functionName);
    const name = frameName(frame);
    const entry = functions.get(name) ?? { name, area, ms: 0, callers: [], byCaller: new Map<string, number>() };
    entry.ms += ms;
    const parent = frames.get(parents.get(id) ?? -1);
    const caller = parent === undefined ? '(none)' : frameName(parent);
    entry.byCaller.set(caller, (entry.byCaller.get(caller) ?? 0) + ms);
    functions.set(name, entry);
    areas.set(area, (areas.get(area) ?? 0) + ms);
  }
  return {
    totalMs,
    idleMs,
    busyMs: totalMs - idleMs,
    functions: [...functions.values()]
      .map(({ byCaller, ...entry }) => ({ ...entry, callers: [...byCaller].map(([caller, ms]) => ({ name: caller, ms })).sort((a, b) => b.ms - a.ms) }))
      .sort((a, b) => b.ms - a.ms),
    areas: [...areas].map(([area, ms]) => ({ area, ms })).sort((a, b) => b.ms - a.ms),
  };
}

function frameName(frame: { functionName: string; url: string; lineNumber: number }): string {
  const location = frame.url === '' ? '' : ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
  return `${frame.functionName || '(anonymous)'}${location}`;
}

/** `packages/<name>/…` → `<name>/…`; `…/node_modules/<pkg>/…` → `<pkg>/…`; others unchanged. */
export function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) return path.slice(modules + '/node_modules/'.length);
  const packages = path.lastIndexOf('/packages/');
  if (packages >= 0) return path.slice(packages + '/packages/'.length);
  return path;
}

function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : 'V8/native';
  if (url.startsWith('node:')) return 'node';
  const short = shortUrl(url);
  if (url.includes('/node_modules/')) return short.startsWith('@') ? short.split('/').slice(0, 2).join('/') : short.split('/')[0]!;
  if (url.includes('/packages/')) return short.split('/')[0]!;
  return short;
}

/** `callers`: under each function, that many of its callers (0: none). */
export function formatProfileSummary(title: string, summary: ProfileSummary, top = 20, callers = 0): string {
  const busy = summary.busyMs || 1;
  const pct = (ms: number): string => `${((100 * ms) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `${title}: ${(summary.totalMs / 1000).toFixed(2)} s sampled, ${(summary.busyMs / 1000).toFixed(2)} s busy, ${(summary.idleMs / 1000).toFixed(2)} s idle`,
    `  by area (share of busy): ${summary.areas
      .slice(0, 10)
      .map((entry) => `${entry.area} ${((100 * entry.ms) / busy).toFixed(0)}%`)
      .join(', ')}`,
    `  top ${top} functions by self time:`,
    ...summary.functions.slice(0, top).flatMap((entry) => [
      `  ${entry.ms.toFixed(0).padStart(7)} ms ${pct(entry.ms)}  ${entry.name}`,
      ...entry.callers.slice(0, callers).map((caller) => `  ${''.padStart(18)}← ${caller.name} (${caller.ms.toFixed(0)} ms)`),
    ]),
  ];
  return lines.join('\n');
}

/** Every `.cpuprofile` under `path` (a file or a directory, searched recursively), sorted. */
export async function findProfiles(path: string): Promise<string[]> {
  if (path.endsWith('.cpuprofile')) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) found.push(...(await findProfiles(full)));
    else if (entry.name.endsWith('.cpuprofile')) found.push(full);
  }
  return found.sort();
}

export async function readProfile(file: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
}
