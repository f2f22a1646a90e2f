import { z } from 'zod';
import { batchSchema } from './batch.js';

/** The v2 batch payload as JSON Schema (2020-12), for implementers in other languages. */
export function batchJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(batchSchema, { unrepresentable: 'any' }),
    title: 'storx-backup batch (wire format v2 payload)',
  };
}
