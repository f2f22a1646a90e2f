import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComposeService } from '../compose/compose-file.js';
import type { Deployment } from '../deployment.js';
import { REPO_ROOT, repoPath } from '../repo.js';
import { locate } from '../services/container-paths.js';

const SCRIPTS = join(REPO_ROOT, 'scripts');
/** The seed's streaming-replication scripts a postgres service may run, by absolute container path. */
const SCRIPT = /(?<![\w.])\/[^\s"']*\/(setup-master|init-replica|check-replication-status|pg-promote)\.sh\b/g;
const LIBRARY = join(SCRIPTS, 'lib', 'pg-replication.sh');
/** What the official postgres image's entrypoint itself reads. */
const IMAGE_READS = new Set(['POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_DB', 'POSTGRES_INITDB_ARGS', 'POSTGRES_INITDB_WALDIR', 'POSTGRES_HOST_AUTH_METHOD', 'PGDATA']);
const INITDB_DIR = '/docker-entrypoint-initdb.d';

interface PostgresRole {
  where: string;
  image: string | undefined;
}

/**
 * The PostgreSQL master and its streaming standby (the first seed), across the hosts' compose
 * files: every replication script a service runs (its entrypoint, command, healthcheck, or an
 * initdb file it mounts) is the repository's own, mounted and executable; every POSTGRES_* or
 * REPLICA_* variable it sets is read by the image or one of those scripts (a misspelt name would
 * be ignored there), and every variable a script refuses to run without is set; a standby checks
 * its health as a replica; and master and standby run the same major version (pg_basebackup
 * cannot copy across majors, nor does WAL replay).
 */
export function checkPostgresStandby(deployment: Deployment): string[] {
  const problems: string[] = [];
  const masters: PostgresRole[] = [];
  const standbys: PostgresRole[] = [];
  for (const file of deployment.composeFiles) {
    for (const service of file.services) {
      const where = `${repoPath(file.path)}: service ${service.name}`;
      const runs = scriptsRun(service);
      if (runs.size === 0) continue;
      problems.push(...checkService(service, runs, where));
      if (runs.has('setup-master')) masters.push({ where, image: service.image });
      if (runs.has('init-replica')) {
        standbys.push({ where, image: service.image });
        const health = (service.healthcheck ?? []).join(' ');
        if (!/check-replication-status\.sh"? +"?replica\b/.test(health)) problems.push(`${where}: its healthcheck does not run check-replication-status.sh replica`);
      }
    }
  }
  for (const role of [...masters, ...standbys]) {
    if (major(role.image) === undefined) problems.push(`${role.where}: image ${role.image ?? '(none)'} names no PostgreSQL major version: pin one (postgres:17), the same on master and standby`);
  }
  for (const standby of standbys) {
    for (const master of masters) {
      const [mine, theirs] = [major(standby.image), major(master.image)];
      if (mine !== undefined && theirs !== undefined && mine !== theirs) problems.push(`${standby.where}: image ${standby.image} is PostgreSQL ${mine}, its master (${master.where}) runs ${theirs}: use the same major`);
    }
  }
  if (standbys.length > 0 && masters.length === 0) problems.push(`${standbys[0]!.where}: a standby, but no compose file's postgres runs setup-master.sh`);
  return problems;
}

/** The scripts a service runs, by name, with the container path each is run from. */
function scriptsRun(service: ComposeService): Map<string, string> {
  const texts = [...(service.entrypoint ?? []), ...(service.command ?? []), ...(service.healthcheck ?? [])];
  for (const mount of service.volumes) {
    if (mount.kind === 'bind' && mount.target.startsWith(`${INITDB_DIR}/`) && existsSync(mount.source)) texts.push(readFileSync(mount.source, 'utf8'));
  }
  const runs = new Map<string, string>();
  for (const match of texts.join('\n').matchAll(SCRIPT)) runs.set(match[1]!, match[0]);
  return runs;
}

function checkService(service: ComposeService, runs: ReadonlyMap<string, string>, where: string): string[] {
  const problems: string[] = [];
  const reads = new Set(IMAGE_READS);
  for (const [name, containerPath] of runs) {
    const wanted = join(SCRIPTS, `${name}.sh`);
    const mounted = locate(service, containerPath)?.hostPath;
    if (mounted !== wanted) {
      problems.push(`${where}: ${containerPath} is ${mounted ? repoPath(mounted) : 'on no bind mount'}, not ${repoPath(wanted)}`);
      continue;
    }
    if (!isExecutable(wanted)) problems.push(`${where}: ${repoPath(wanted)} is not executable (chmod +x)`);
    if (locate(service, containerPath.replace(/[^/]+$/, 'lib/pg-replication.sh'))?.hostPath !== LIBRARY) problems.push(`${where}: ${containerPath} sources lib/pg-replication.sh beside it, which is not mounted there`);
    const text = readFileSync(wanted, 'utf8') + readFileSync(LIBRARY, 'utf8');
    for (const match of text.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g)) reads.add(match[1]!);
    for (const match of text.matchAll(/\[ -n "\$\{([A-Z_][A-Z0-9_]*):-\}" \] \|\| die/g)) {
      const variable = match[1]!;
      // setup-master.sh through an initdb file that skips it without REPLICA_ADDRESS may be empty.
      if (!service.environment.has(variable)) problems.push(`${where}: ${name}.sh needs ${variable}, which the service does not set`);
    }
  }
  for (const variable of service.environment.keys()) {
    if (/^(POSTGRES_|REPLICA_|PG)/.test(variable) && !reads.has(variable)) problems.push(`${where}: ${variable} is read neither by the postgres image nor by ${[...runs.keys()].map((name) => `${name}.sh`).join(', ')}`);
  }
  return problems;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** postgres:17, postgres:17.2-bookworm → '17'; latest or no tag → undefined. */
function major(image: string | undefined): string | undefined {
  return /^(?:[^:]*\/)?postgres:(\d+)/.exec(image ?? '')?.[1];
}
