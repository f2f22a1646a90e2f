import { sql } from 'kysely';
import { ReceiverError } from '../errors.js';
import type { Executor } from './executor.js';

/**
 * Turns a source's `format_type` text into the backup server's own spelling of that type, or
 * fails with TABLE_INCOMPATIBLE when the backup has no such type (an enum, domain or composite
 * that was never created there). The result comes from the backup's catalog, never from the
 * sender, so it is safe to place in DDL and casts.
 *
 * PostgreSQL 17 has `to_regtypemod`, which keeps modifiers such as `numeric(38,10)`. Older
 * servers resolve the base type only; the modifier is then taken from the text after a strict
 * syntax check.
 */
export class TypeResolver {
  private readonly cache = new Map<string, string>();
  private hasTypmodFunction: boolean | undefined;

  /** Forgets every resolution (a type created in a transaction that failed no longer exists). */
  invalidate(): void {
    this.cache.clear();
  }

  async resolve(db: Executor, sourceType: string, where: string): Promise<string> {
    const cached = this.cache.get(sourceType);
    if (cached !== undefined) return cached;
    this.hasTypmodFunction ??= await serverHasToRegtypemod(db);
    let resolved: string | null | undefined;
    // to_regtype answers NULL for an unknown type rather than failing; an error here is the
    // database's (a lost connection), classified by the caller, not an incompatible table.
    if (this.hasTypmodFunction) {
      const { rows } = await sql<{ type: string | null }>`SELECT format_type(to_regtype(${sourceType}), to_regtypemod(${sourceType})) AS type`.execute(db);
      resolved = rows[0]?.type;
    } else {
      resolved = await resolveWithoutTypmodFunction(db, sourceType);
    }
    if (resolved === null || resolved === undefined) throw unknownType(sourceType, where);
    this.cache.set(sourceType, resolved);
    return resolved;
  }
}

async function serverHasToRegtypemod(db: Executor): Promise<boolean> {
  const { rows } = await sql<{ present: boolean }>`SELECT to_regproc('pg_catalog.to_regtypemod') IS NOT NULL AS present`.execute(db);
  return rows[0]?.present ?? false;
}

// A type name, optionally schema-qualified and quoted, with at most one modifier list of
// integers and array brackets: `numeric(38,10)`, `"satellite/0".status[]`, `timestamp(3) with time zone`.
const SAFE_TYPE = /^(?:"[^";]{1,63}"|[A-Za-z_][A-Za-z0-9_ ]{0,62})(?:\.(?:"[^";]{1,63}"|[A-Za-z_][A-Za-z0-9_]{0,62}))?(?:\(\d+(?:,\d+)?\))?(?: with(?:out)? time zone)?(?:\[\])*$/;

async function resolveWithoutTypmodFunction(db: Executor, sourceType: string): Promise<string | null> {
  if (!SAFE_TYPE.test(sourceType)) return null;
  const { rows } = await sql<{ exists: boolean }>`SELECT to_regtype(${sourceType}) IS NOT NULL AS exists`.execute(db);
  return rows[0]?.exists ? sourceType : null;
}

function unknownType(sourceType: string, where: string): ReceiverError {
  return new ReceiverError(
    'TABLE_INCOMPATIBLE',
    `${where}: type ${JSON.stringify(sourceType)} does not exist on the backup database; create it there first, as on the source. The receiver creates enums itself (with auto-create-tables, from the labels the sender sends), but never a domain, composite, range or base type: their checks, defaults and functions are not in the metadata`,
  );
}
