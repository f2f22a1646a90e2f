import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseDuration } from '@storx-backup/service-kit';
import { parse as parseYaml } from 'yaml';
import { repoPath } from '../repo.js';
import { asArray, asRecord, asString, asStrings, type UnknownRecord } from '../untyped.js';
import { readEnvExample } from './env-file.js';
import { interpolate } from './interpolate.js';
import { shellWords } from './shell-words.js';

/** A volume of a service: a host path (bind, absolute) or a named volume. */
export interface Mount {
  kind: 'bind' | 'volume';
  /** Absolute host path for a bind mount; the volume's name otherwise. */
  source: string;
  target: string;
  readOnly: boolean;
}

export interface PortMapping {
  /** `127.0.0.1:8005` or `8005`, as written; undefined when only the container port is given. */
  published: string | undefined;
  target: number;
}

/** The parts of a compose service these checks read, normalized from compose's several syntaxes. */
export interface ComposeService {
  name: string;
  image: string | undefined;
  build: { context: string; dockerfile: string } | undefined;
  environment: ReadonlyMap<string, string>;
  volumes: readonly Mount[];
  ports: readonly PortMapping[];
  expose: readonly number[];
  command: readonly string[] | undefined;
  entrypoint: readonly string[] | undefined;
  /** The `test` of its healthcheck (["CMD", ...] or ["CMD-SHELL", "..."]). */
  healthcheck: readonly string[] | undefined;
  stopGracePeriodMs: number | undefined;
  profiles: readonly string[];
}

export interface ComposeFile {
  /** Absolute path of compose.yml; relative paths in it are relative to its directory. */
  path: string;
  services: readonly ComposeService[];
  /** Names declared under the top-level `volumes:`. */
  volumes: ReadonlySet<string>;
  /** Variables that would not substitute, and entries that do not parse. */
  problems: readonly string[];
}

/** Reads a compose file with the variables of the `.env.example` beside it. */
export function loadComposeFile(path: string): ComposeFile {
  return parseComposeFile(readFileSync(path, 'utf8'), path, readEnvExample(join(dirname(path), '.env.example')));
}

export function parseComposeFile(text: string, path: string, variables: ReadonlyMap<string, string>): ComposeFile {
  const problems: string[] = [];
  const where = repoPath(path);
  const document = asRecord(substitute(parseYaml(text) as unknown, variables, problems, where)) ?? {};
  const dir = dirname(path);
  const services = Object.entries(asRecord(document['services']) ?? {}).map(([name, body]) => parseService(name, asRecord(body) ?? {}, dir, problems, `${where}: service ${name}`));
  return { path, services, volumes: new Set(Object.keys(asRecord(document['volumes']) ?? {})), problems };
}

/** Substitutes variables in every string value (compose does not substitute keys). */
function substitute(node: unknown, variables: ReadonlyMap<string, string>, problems: string[], where: string): unknown {
  if (typeof node === 'string') return interpolate(node, variables, problems, where);
  if (Array.isArray(node)) return node.map((item: unknown) => substitute(item, variables, problems, where));
  const record = asRecord(node);
  if (!record) return node;
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, substitute(value, variables, problems, where)]));
}

function parseService(name: string, body: UnknownRecord, dir: string, problems: string[], where: string): ComposeService {
  return {
    name,
    image: asString(body['image']),
    build: parseBuild(body['build'], dir),
    environment: parseEnvironment(body['environment']),
    volumes: asArray(body['volumes']).flatMap((entry) => parseMount(entry, dir, problems, where) ?? []),
    ports: asArray(body['ports']).flatMap((entry) => parsePort(entry, problems, where) ?? []),
    expose: asStrings(body['expose']).map((port) => Number(port.split('/')[0])),
    command: parseWords(body['command']),
    entrypoint: parseWords(body['entrypoint']),
    healthcheck: parseHealthcheck(asRecord(body['healthcheck'])?.['test']),
    stopGracePeriodMs: parseGracePeriod(asString(body['stop_grace_period']), problems, where),
    profiles: asStrings(body['profiles']),
  };
}

function parseBuild(build: unknown, dir: string): ComposeService['build'] {
  const short = asString(build);
  const record = asRecord(build);
  const contextText = short ?? asString(record?.['context']);
  if (contextText === undefined) return undefined;
  const context = resolve(dir, contextText);
  return { context, dockerfile: resolve(context, asString(record?.['dockerfile']) ?? 'Dockerfile') };
}

/** `environment:` as a mapping or as a list of `KEY=value`. */
function parseEnvironment(environment: unknown): Map<string, string> {
  const record = asRecord(environment);
  if (record) return new Map(Object.entries(record).map(([key, value]) => [key, asString(value) ?? '']));
  return new Map(
    asStrings(environment).map((entry) => {
      const equals = entry.indexOf('=');
      return equals < 0 ? [entry, ''] : [entry.slice(0, equals), entry.slice(equals + 1)];
    }),
  );
}

/** Short syntax `source:target[:ro]` or the long mapping. A source starting with `.`, `/` or `~` is a host path. */
function parseMount(entry: unknown, dir: string, problems: string[], where: string): Mount | undefined {
  const record = asRecord(entry);
  if (record) {
    const source = asString(record['source']);
    const target = asString(record['target']);
    if (source === undefined || target === undefined) {
      problems.push(`${where}: volume entry without source or target`);
      return undefined;
    }
    const kind = asString(record['type']) === 'bind' ? 'bind' : 'volume';
    return { kind, source: kind === 'bind' ? resolve(dir, source) : source, target, readOnly: record['read_only'] === true };
  }
  const [source, target, mode] = (asString(entry) ?? '').split(':');
  if (!source || !target) {
    problems.push(`${where}: volume ${JSON.stringify(entry)} is not source:target[:mode]`);
    return undefined;
  }
  const bind = /^[./~]/.test(source);
  return { kind: bind ? 'bind' : 'volume', source: bind ? (isAbsolute(source) ? source : resolve(dir, source)) : source, target, readOnly: mode?.split(',').includes('ro') ?? false };
}

/** `[ip:][published:]target[/protocol]` or the long mapping. */
function parsePort(entry: unknown, problems: string[], where: string): PortMapping | undefined {
  const record = asRecord(entry);
  const text = record ? `${asString(record['published']) ?? ''}:${asString(record['target']) ?? ''}` : (asString(entry) ?? '');
  const parts = text.split('/')[0]!.split(':');
  const target = Number(parts.at(-1));
  if (!Number.isInteger(target) || target <= 0) {
    problems.push(`${where}: port ${JSON.stringify(entry)} has no container port`);
    return undefined;
  }
  const published = parts.slice(0, -1).join(':');
  return { published: published === '' ? undefined : published, target };
}

/** One unit only (`40s`), which is all these files use; compose also takes `1m30s`. */
function parseGracePeriod(text: string | undefined, problems: string[], where: string): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (error) {
    problems.push(`${where}: stop_grace_period: ${(error as Error).message}`);
    return undefined;
  }
}

function parseWords(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const text = asString(value);
  return text === undefined ? asStrings(value) : shellWords(text);
}

function parseHealthcheck(test: unknown): string[] | undefined {
  if (test === undefined) return undefined;
  const text = asString(test);
  return text === undefined ? asStrings(test) : ['CMD-SHELL', text];
}
