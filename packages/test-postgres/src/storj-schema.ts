import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The schema of the Storj-like source tables. */
export const STORJ_SCHEMA = 'satellite/0';

/** Key order of each Storj-like table, for ordered digests. */
export const STORJ_TABLE_KEYS = {
  objects: 'project_id, bucket_name, object_key, version',
  segments: 'stream_id, position',
} as const;

// The one definition of `objects` and `segments`: what docker/local creates on a fresh source
// (src/ and dist/ sit at the same depth, so the path holds for both).
const SOURCE_INIT_SQL = join(import.meta.dirname, '..', '..', '..', 'docker', 'local', 'source-init.sql');

let cached: readonly string[] | undefined;

/**
 * `CREATE SCHEMA "satellite/0"` and the `CREATE TABLE` statements of objects and segments, as
 * docker/local/source-init.sql has them (without its role, grants and publication).
 */
export function storjSchemaDdl(): readonly string[] {
  if (cached === undefined) {
    const statements = readFileSync(SOURCE_INIT_SQL, 'utf8')
      .replace(/--.*$/gm, '')
      .split(';')
      .map((statement) => statement.trim())
      .filter((statement) => /^CREATE (SCHEMA|TABLE) /.test(statement));
    if (statements.length !== 3) throw new Error(`${SOURCE_INIT_SQL}: expected CREATE SCHEMA and two CREATE TABLE statements, found ${statements.length}`);
    cached = Object.freeze(statements);
  }
  return cached;
}
