import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatOptionsMarkdown } from '@storx-backup/service-kit';
import { ENV_PREFIX, REPLICATOR_OPTIONS } from '../src/config.js';
import { REPLICATOR_ERRORS } from '../src/errors.js';

const docs = join(import.meta.dirname, '..', '..', '..', 'docs');

describe('docs match the code', () => {
  it('docs/configuration.md lists every replicator option with its flag, variable and default', async () => {
    const doc = await readFile(join(docs, 'configuration.md'), 'utf8');
    const table = /<!-- replicator-options:start -->\n([\s\S]*?)\n<!-- replicator-options:end -->/.exec(doc)?.[1];
    expect(table).toBe(formatOptionsMarkdown(REPLICATOR_OPTIONS, ENV_PREFIX));
  });

  it('docs/errors.md documents every replicator error code', async () => {
    const doc = await readFile(join(docs, 'errors.md'), 'utf8');
    for (const code of Object.keys(REPLICATOR_ERRORS)) expect(doc, code).toContain(`| \`${code}\` |`);
  });
});
