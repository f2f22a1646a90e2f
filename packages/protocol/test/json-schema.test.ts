import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchJsonSchema } from '../src/index.js';

describe('docs/payload.schema.json', () => {
  it('matches the schema the code validates with (regenerate: node packages/protocol/scripts/generate-json-schema.mjs)', async () => {
    const committed = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', '..', 'docs', 'payload.schema.json'), 'utf8')) as unknown;
    expect(committed).toEqual(batchJsonSchema());
  });
});
