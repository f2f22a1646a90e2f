#!/usr/bin/env node
// Writes docs/payload.schema.json (JSON Schema 2020-12 of a v2 batch) from the built
// package's zod schema (run `pnpm build` first). test/json-schema.test.ts fails when the
// committed file and the code disagree. Cross-field rules (an event's table must have
// relation metadata, unchanged_toast columns must be absent from data, ...) cannot be
// expressed in JSON Schema; docs/protocol.md lists them.
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchJsonSchema } from '../dist/index.js';

const target = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'payload.schema.json');
await writeFile(target, `${JSON.stringify(batchJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
