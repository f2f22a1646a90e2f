import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, envName, loadLayeredConfig, type OptionSpec } from '../src/index.js';

const specs: OptionSpec[] = [
  { path: 'database', kind: { type: 'string' }, description: 'source database URL', required: true, secret: true },
  { path: 'replication.webhook-url', kind: { type: 'string' }, description: 'receiver URL', required: true },
  { path: 'replication.max-retries', kind: { type: 'integer', min: 0 }, description: 'retries', default: 3 },
  { path: 'replication.retry-delay', kind: { type: 'duration' }, description: 'delay', default: 5000 },
  { path: 'replication.tables', kind: { type: 'list' }, description: 'tables', default: ['objects', 'segments'] },
  { path: 'replication.format', kind: { type: 'enum', values: ['v2', 'seed-v1'] }, description: 'format', default: 'v2' },
  { path: 'replication.enabled', kind: { type: 'boolean' }, description: 'on', default: true },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'layered-config-'));
});

async function yamlFile(text: string): Promise<string> {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(path, text);
  return path;
}

function problems(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('configuration was accepted');
}

describe('layered configuration', () => {
  it('reads the seed-style nested YAML and applies defaults', async () => {
    const file = await yamlFile('database: postgres://a\nreplication:\n  webhook-url: http://localhost:8005/webhook\n  tables: [objects]\n');
    const config = loadLayeredConfig({ specs, envPrefix: 'STORX_', env: {}, flags: new Map(), file: { path: file, required: true } });
    expect(config.values.get('replication.webhook-url')).toBe('http://localhost:8005/webhook');
    expect(config.values.get('replication.tables')).toEqual(['objects']);
    expect(config.values.get('replication.max-retries')).toBe(3);
    expect(config.sources.get('replication.max-retries')).toEqual({ kind: 'default' });
    expect(config.sources.get('database')).toEqual({ kind: 'file', file });
  });

  it('takes flags over environment over file', async () => {
    const file = await yamlFile('database: from-file\nreplication:\n  webhook-url: from-file\n  max-retries: 1\n');
    const env = { STORX_REPLICATION_WEBHOOK_URL: 'from-env', STORX_REPLICATION_MAX_RETRIES: '2' };
    const config = loadLayeredConfig({ specs, envPrefix: 'STORX_', env, flags: new Map([['replication.max-retries', '9']]), file: { path: file, required: true } });
    expect(config.values.get('database')).toBe('from-file');
    expect(config.values.get('replication.webhook-url')).toBe('from-env');
    expect(config.values.get('replication.max-retries')).toBe(9);
    expect(config.sources.get('replication.max-retries')).toEqual({ kind: 'flag', flag: '--replication.max-retries' });
  });

  it('reads lists, durations and booleans from text', () => {
    const flags = new Map([
      ['database', 'x'],
      ['replication.webhook-url', 'y'],
      ['replication.tables', 'objects, segments,extra'],
      ['replication.retry-delay', '250ms'],
      ['replication.enabled', 'off'],
    ]);
    const config = loadLayeredConfig({ specs, envPrefix: 'STORX_', env: {}, flags });
    expect(config.values.get('replication.tables')).toEqual(['objects', 'segments', 'extra']);
    expect(config.values.get('replication.retry-delay')).toBe(250);
    expect(config.values.get('replication.enabled')).toBe(false);
  });

  it('reports every problem at once, each naming the key and where the value came from', async () => {
    const file = await yamlFile('replication:\n  max-retires: 5\n  retry-delay: 5\n  format: v3\n');
    const found = problems(() =>
      loadLayeredConfig({ specs, envPrefix: 'STORX_', env: { STORX_REPLICATION_MAX_RETRIES: 'many' }, flags: new Map(), file: { path: file, required: true } }),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        `config file ${file}: unknown option "replication.max-retires" (did you mean "replication.max-retries"?)`,
        'database is required: set it in the config file, as STORX_DATABASE, or with --database',
        'replication.webhook-url is required: set it in the config file, as STORX_REPLICATION_WEBHOOK_URL, or with --replication.webhook-url',
        'replication.max-retries (from environment variable STORX_REPLICATION_MAX_RETRIES): expected a whole number, got "many"',
        `replication.retry-delay (from config file ${file}): expected a duration with a unit such as "5s", got 5`,
        `replication.format (from config file ${file}): expected one of v2, seed-v1, got "v3"`,
      ]),
    );
  });

  it('reports a missing required file, invalid YAML and a non-mapping document', async () => {
    expect(problems(() => loadLayeredConfig({ specs, envPrefix: 'S_', env: {}, flags: new Map(), file: { path: join(dir, 'none.yaml'), required: true } }))[0]).toMatch(
      /none\.yaml cannot be read: ENOENT/,
    );
    const broken = await yamlFile('database: [unclosed\n');
    expect(problems(() => loadLayeredConfig({ specs, envPrefix: 'S_', env: {}, flags: new Map(), file: { path: broken, required: true } }))[0]).toContain('is not valid YAML');
    const list = await yamlFile('- a\n- b\n');
    expect(problems(() => loadLayeredConfig({ specs, envPrefix: 'S_', env: {}, flags: new Map(), file: { path: list, required: true } }))[0]).toContain('must be a YAML mapping');
  });

  it('treats a missing optional file as empty', () => {
    const config = loadLayeredConfig({
      specs,
      envPrefix: 'S_',
      env: { S_DATABASE: 'x', S_REPLICATION_WEBHOOK_URL: 'y' },
      flags: new Map(),
      file: { path: join(dir, 'absent.yaml'), required: false },
    });
    expect(config.values.get('database')).toBe('x');
  });

  it('names environment variables from the path', () => {
    expect(envName('STORX_', 'replication.webhook-url')).toBe('STORX_REPLICATION_WEBHOOK_URL');
  });
});
