import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { captureRun } from '@storx-backup/service-kit';
import type { Deployment } from '../deployment.js';
import { type Located, locate } from '../services/container-paths.js';
import { ourServices } from '../services/our-services.js';

/**
 * Key files on a named volume exist only if a `keys generate` of the same compose file writes
 * them there: nobody copies files into a volume by hand. Each such `keys generate` command line
 * is run for real, into a temporary directory, to learn the file names it writes. (Key files on
 * a bind-mounted host directory are copied there by the operator: docker/README.md.)
 */
export async function checkKeyFiles(deployment: Deployment): Promise<string[]> {
  const problems: string[] = [];
  const services = ourServices(deployment);
  for (const file of deployment.composeFiles) {
    const written = new Set<string>();
    for (const { service, kind, invocations, where } of services.filter((candidate) => candidate.file === file)) {
      for (const { argv } of invocations.filter((run) => run.argv[0] === 'keys' && run.argv[1] === 'generate')) {
        const outIndex = argv.indexOf('--out');
        const out = argv[outIndex + 1];
        const located = out === undefined || outIndex < 0 ? undefined : locate(service, out);
        if (located === undefined) {
          problems.push(`${where}: keys generate ${out === undefined ? 'has no --out' : `writes to ${out}, which is on none of its volumes (lost with the container)`}`);
          continue;
        }
        try {
          for (const name of await generatedFileNames(kind.main, argv, outIndex)) written.add(storageKey(located, name));
        } catch (error) {
          problems.push(`${where}: ${(error as Error).message}`);
        }
      }
    }
    for (const { service, running, where } of services.filter((candidate) => candidate.file === file)) {
      for (const path of running?.config?.files ?? []) {
        const located = locate(service, path);
        if (located?.mount.kind === 'volume' && !written.has(storageKey(located))) {
          problems.push(`${where}: ${path} is on volume ${located.mount.source}, but no keys generate of this file writes it there`);
        }
      }
    }
  }
  return problems;
}

/** Runs the real command line with --out pointed at a temporary directory; the names it wrote. */
async function generatedFileNames(main: Parameters<typeof captureRun>[0], argv: readonly string[], outIndex: number): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'deploy-check-keys-'));
  try {
    const args = argv.map((arg, index) => (index === outIndex + 1 ? dir : arg));
    const run = await captureRun(main, args);
    if (run.code !== 0) throw new Error(`${args.join(' ')} failed (${run.code}): ${run.stderr}`);
    return await readdir(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `volume-name/dir/file` or the host path: the same file seen from two containers. */
function storageKey(located: Located, name = ''): string {
  const inside = posix.join(located.inside, name);
  return located.mount.kind === 'volume' ? `volume:${located.mount.source}/${inside}` : `bind:${located.hostPath}/${name}`;
}
