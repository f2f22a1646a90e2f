import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Deployment } from '../deployment.js';
import { type Dockerfile, execForm, instructionFlags, instructions, type Stage } from '../dockerfile/dockerfile.js';
import { REPO_ROOT, repoPath } from '../repo.js';
import { firstUrl, urlPort } from '../services/healthcheck-url.js';
import { SERVICE_KINDS } from '../services/service-kinds.js';
import { asRecord, asString, asStrings } from '../untyped.js';

/** A runtime base that carries Node and little else. */
const SMALL_RUNTIME = /^node:\d+(?:\.\d+)*-(?:bookworm-slim|bullseye-slim|slim|alpine[\d.]*)$/;

/**
 * Each Dockerfile builds in one stage and runs from a small one: the last stage starts from a
 * slim Node image, runs as a user other than root, starts the package's real bin (the one
 * `pnpm deploy --prod` copied in) and has a HEALTHCHECK on a port it EXPOSEs. Every file it
 * COPYs from the context exists and is not left out by .dockerignore.
 */
export function checkDockerfiles(deployment: Deployment): string[] {
  return deployment.dockerfiles.flatMap((dockerfile) => {
    const where = repoPath(dockerfile.path);
    const runtime = dockerfile.stages.at(-1);
    if (dockerfile.stages.length < 2 || !runtime) return [`${where}: not a multi-stage build (build, then a runtime stage)`];
    return [...checkRuntime(runtime, where), ...checkEntrypoint(dockerfile, runtime, where), ...checkHealthcheck(runtime, where), ...checkCopies(dockerfile, deployment, where)];
  });
}

function checkRuntime(runtime: Stage, where: string): string[] {
  const problems: string[] = [];
  if (!SMALL_RUNTIME.test(runtime.image)) problems.push(`${where}: the runtime stage starts from ${runtime.image}, not a slim or alpine Node image`);
  const user = instructions(runtime, 'USER').at(-1)?.args.split(':')[0];
  if (user === undefined || user === 'root' || user === '0') problems.push(`${where}: the runtime stage runs as ${user ?? 'root (no USER)'}`);
  return problems;
}

/** ENTRYPOINT ["node", "<dest>/bin/<program>.js"], where <dest> is the `pnpm deploy --prod` output of the service's package. */
function checkEntrypoint(dockerfile: Dockerfile, runtime: Stage, where: string): string[] {
  const kind = SERVICE_KINDS.find((candidate) => candidate.dockerfile === dockerfile.path);
  const entrypoint = execForm(instructions(runtime, 'ENTRYPOINT').at(-1)?.args ?? '');
  if (!kind) return [`${where}: builds neither service (no ServiceKind has this Dockerfile)`];
  if (entrypoint?.[0] !== 'node' || entrypoint[1] === undefined) return [`${where}: ENTRYPOINT is not ["node", "<the bin script>"] in exec form`];
  const deploy = findDeploy(dockerfile);
  if (!deploy) return [`${where}: no "scripts/install <program> <dir>" (or "pnpm --filter <package> deploy --prod <dir>") in a build stage`];
  const problems: string[] = [];
  if (deploy.viaScript) problems.push(...checkInstallScriptCopied(dockerfile, deploy.stage, where));
  const pkg = workspacePackages().get(deploy.packageName);
  if (pkg?.dir !== kind.packageDir) problems.push(`${where}: deploys ${deploy.packageName}, not ${repoPath(kind.packageDir)}`);
  if (!deploy.prod) problems.push(`${where}: pnpm deploy without --prod puts development dependencies into the image`);
  const copy = instructions(runtime, 'COPY').find((instruction) => {
    const { flags, rest } = instructionFlags(instruction.args);
    return flags.get('from') === deploy.stage && rest.split(' ')[0] === deploy.out;
  });
  const dest = copy && instructionFlags(copy.args).rest.split(' ')[1];
  const script = entrypoint[1];
  if (dest === undefined || !script.startsWith(`${dest.replace(/\/$/, '')}/`)) {
    problems.push(`${where}: ENTRYPOINT runs ${script}, which is not in the deployed tree (${deploy.out} copied to ${dest ?? 'nowhere'})`);
    return problems;
  }
  const relativeScript = `./${posix.relative(dest, script)}`;
  if (!existsSync(join(kind.packageDir, relativeScript))) problems.push(`${where}: ENTRYPOINT runs ${script}, but ${repoPath(join(kind.packageDir, relativeScript))} does not exist`);
  if (pkg && !Object.values(pkg.bin).includes(relativeScript)) problems.push(`${where}: ENTRYPOINT runs ${relativeScript}, which is not a bin of ${deploy.packageName} (${Object.values(pkg.bin).join(', ')})`);
  if (pkg?.files && !pkg.files.some((entry) => relativeScript.startsWith(`./${entry.replace(/^\.\//, '')}`))) problems.push(`${where}: ${relativeScript} is not in the "files" of ${deploy.packageName}: pnpm deploy leaves it out`);
  return problems;
}

function checkHealthcheck(runtime: Stage, where: string): string[] {
  const healthcheck = instructions(runtime, 'HEALTHCHECK').at(-1);
  if (!healthcheck) return [`${where}: no HEALTHCHECK`];
  const command = instructionFlags(healthcheck.args).rest.replace(/^CMD\s+/, '');
  const url = firstUrl(execForm(command) ?? [command]);
  const exposed = instructions(runtime, 'EXPOSE').flatMap((instruction) => instruction.args.split(' ').map((port) => Number(port.split('/')[0])));
  if (!url) return [`${where}: the HEALTHCHECK probes no URL`];
  return exposed.includes(urlPort(url)) ? [] : [`${where}: the HEALTHCHECK probes port ${urlPort(url)}, but the image EXPOSEs ${exposed.join(', ') || 'nothing'}`];
}

/** COPY sources from the build context (not --from a stage) exist and are not excluded. */
function checkCopies(dockerfile: Dockerfile, deployment: Deployment, where: string): string[] {
  const problems: string[] = [];
  for (const stage of dockerfile.stages) {
    for (const copy of instructions(stage, 'COPY')) {
      const { flags, rest } = instructionFlags(copy.args);
      if (flags.has('from')) continue;
      for (const source of (execForm(rest) ?? rest.split(' ')).slice(0, -1)) {
        if (!existsSync(join(REPO_ROOT, source))) problems.push(`${where}:${copy.line}: COPY ${source}: not in the build context (the repository root)`);
        else if (deployment.dockerignore.ignores(source.replace(/^\.\//, '').replace(/\/$/, ''))) problems.push(`${where}:${copy.line}: COPY ${source}: left out of the build context by .dockerignore`);
      }
    }
  }
  return problems;
}

interface Deploy {
  stage: string;
  packageName: string;
  out: string;
  prod: boolean;
  /** Through the README's production install, `scripts/install`, rather than pnpm itself. */
  viaScript: boolean;
}

/** The README's production install: it deploys with `pnpm ... deploy --prod`. */
export const INSTALL_SCRIPT = 'scripts/install';
const INSTALL_SCRIPT_FILES = [INSTALL_SCRIPT, 'scripts/lib/pnpm.sh'];

/**
 * `scripts/install [--no-link | --bin-dir DIR | --skip-build] <program> <out>` (the package is
 * the one whose bin is <program>; --prod when the script deploys with it), or
 * `pnpm --filter <package> deploy [--prod] [--legacy] <out>`, in a named build stage.
 */
function findDeploy(dockerfile: Dockerfile): Deploy | undefined {
  for (const stage of dockerfile.stages.slice(0, -1)) {
    for (const run of instructions(stage, 'RUN')) {
      for (const part of instructionFlags(run.args).rest.split('&&')) {
        const words = part.trim().split(/\s+/);
        if (stage.name === undefined) continue;
        if (words[0]?.replace(/^\.\//, '') === INSTALL_SCRIPT) {
          const positional = words.slice(1).filter((word, index, all) => !word.startsWith('-') && all[index - 1] !== '--bin-dir');
          const [program = '', out = ''] = positional;
          const packageName = [...workspacePackages()].find(([, pkg]) => Object.hasOwn(pkg.bin, program))?.[0] ?? `(no package has the bin ${program})`;
          return { stage: stage.name, packageName, out, prod: installScriptDeploysProd(), viaScript: true };
        }
        const at = words.indexOf('deploy');
        if (words[0] !== 'pnpm' || at < 0 || stage.name === undefined) continue;
        const packageName = words[words.indexOf('--filter') + 1] ?? '';
        const out = words.slice(at + 1).filter((word) => !word.startsWith('-')).at(-1) ?? '';
        return { stage: stage.name, packageName, out, prod: words.includes('--prod') || words.includes('-P'), viaScript: false };
      }
    }
  }
  return undefined;
}

function installScriptDeploysProd(): boolean {
  const path = join(REPO_ROOT, INSTALL_SCRIPT);
  return existsSync(path) && /\bdeploy --prod\b/.test(readFileSync(path, 'utf8'));
}

/** The script and the library it sources must be in the build stage before it runs. */
function checkInstallScriptCopied(dockerfile: Dockerfile, stageName: string, where: string): string[] {
  const upTo = dockerfile.stages.slice(0, dockerfile.stages.findIndex((stage) => stage.name === stageName) + 1);
  const copied = upTo.flatMap((stage) =>
    instructions(stage, 'COPY')
      .filter((copy) => !instructionFlags(copy.args).flags.has('from'))
      .flatMap((copy) => {
        const { rest } = instructionFlags(copy.args);
        return (execForm(rest) ?? rest.split(' ')).slice(0, -1).map((source) => source.replace(/^\.\//, '').replace(/\/$/, ''));
      }),
  );
  return INSTALL_SCRIPT_FILES.filter((file) => !copied.some((source) => source === '.' || source === file || file.startsWith(`${source}/`))).map(
    (file) => `${where}: RUN ${INSTALL_SCRIPT}, but the build stage does not COPY ${file} before it`,
  );
}

interface WorkspacePackage {
  dir: string;
  bin: Record<string, string>;
  files: string[] | undefined;
}

/** packages/*\/package.json by package name. */
function workspacePackages(): Map<string, WorkspacePackage> {
  const packages = new Map<string, WorkspacePackage>();
  const root = join(REPO_ROOT, 'packages');
  for (const name of readdirSync(root)) {
    const path = join(root, name, 'package.json');
    if (!existsSync(path)) continue;
    const json = asRecord(JSON.parse(readFileSync(path, 'utf8')) as unknown) ?? {};
    const bin = Object.fromEntries(Object.entries(asRecord(json['bin']) ?? {}).map(([key, value]) => [key, normalize(asString(value) ?? '')]));
    packages.set(asString(json['name']) ?? name, { dir: join(root, name), bin, files: json['files'] === undefined ? undefined : asStrings(json['files']) });
  }
  return packages;
}

function normalize(path: string): string {
  return path.startsWith('./') ? path : `./${path}`;
}
