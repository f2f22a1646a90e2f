import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_ERRORS } from '../src/index.js';

describe('docs/protocol.md error table', () => {
  it('lists every protocol error code with the status the code gives it', async () => {
    const doc = await readFile(join(import.meta.dirname, '..', '..', '..', 'docs', 'protocol.md'), 'utf8');
    for (const [code, { status }] of Object.entries(PROTOCOL_ERRORS)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
      expect(row, `${code} is documented`).toBeDefined();
      const documentedStatus = row!.split('|')[2]!.trim();
      expect(documentedStatus, code).toBe(status >= 500 ? '—' : String(status));
    }
  });
});
