import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RECEIVER_ERRORS } from '../src/errors.js';

describe('docs/errors.md', () => {
  it('documents every receiver error code with its status', async () => {
    const doc = await readFile(join(import.meta.dirname, '..', '..', '..', 'docs', 'errors.md'), 'utf8');
    for (const [code, { status }] of Object.entries(RECEIVER_ERRORS)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
      expect(row, `${code} is documented`).toBeDefined();
      expect(row!.split('|')[2]!.trim().startsWith(String(status)), code).toBe(true);
    }
  });
});
