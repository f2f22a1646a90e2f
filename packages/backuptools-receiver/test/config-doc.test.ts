import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatOptionsMarkdown } from '@storx-backup/service-kit';
import { ENV_PREFIX, RECEIVER_OPTIONS } from '../src/config.js';

describe('docs/configuration.md', () => {
  it('lists every receiver option with its flag, variable and default', async () => {
    const doc = await readFile(join(import.meta.dirname, '..', '..', '..', 'docs', 'configuration.md'), 'utf8');
    const table = /<!-- receiver-options:start -->\n([\s\S]*?)\n<!-- receiver-options:end -->/.exec(doc)?.[1];
    expect(table).toBe(formatOptionsMarkdown(RECEIVER_OPTIONS, ENV_PREFIX));
  });
});
