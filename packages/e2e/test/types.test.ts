// Scenario 2: every awkward type through the real command lines (numeric extremes and NaN,
// ±infinity, microseconds, time/timetz/interval, empty/NUL/1 MB bytea, all Unicode planes,
// JSON null vs SQL null, arrays with NULL elements, enum, domain, composite, uuid, inet/cidr,
// bit varying, ranges), inserted, copied, updated and deleted, plus a table whose primary key
// is made of awkward types, so updates and deletes must find rows by those values.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_MATRIX_ROWS, typeMatrixBigByteaInsert } from '@storx-backup/test-postgres';
import { expectBackupEqualsSource } from '../src/invariant.js';
import { System } from '../src/system.js';

let system: System;
beforeAll(async () => {
  system = await System.start();
});
afterAll(async () => {
  await system?.stop();
});

describe('type matrix', () => {
  it('arrives exactly through inserts, updates and deletes', async () => {
    const source = system.source;
    await source.query(`INSERT INTO types_matrix VALUES ${TYPE_MATRIX_ROWS.join(',\n')}`);
    await source.query(typeMatrixBigByteaInsert('satellite/0', 4));
    // Copies of every row under new ids, then every column of row 3 overwritten with row 1's
    // values and row 1's with row 2's: updates carry every awkward value too.
    await source.query(`INSERT INTO types_matrix SELECT (jsonb_populate_record(t, jsonb_build_object('id', t.id + 10))).* FROM types_matrix t`);
    const { rows: columns } = await source.query<{ name: string }>(
      `SELECT quote_ident(attname) AS name FROM pg_attribute WHERE attrelid = 'types_matrix'::regclass AND attnum > 1 AND NOT attisdropped ORDER BY attnum`,
    );
    const list = columns.map((column) => column.name).join(', ');
    await source.query(`UPDATE types_matrix SET (${list}) = (SELECT ${list} FROM types_matrix WHERE id = 1) WHERE id = 3`);
    await source.query(`UPDATE types_matrix SET (${list}) = (SELECT ${list} FROM types_matrix WHERE id = 2) WHERE id = 1`);
    await source.query('DELETE FROM types_matrix WHERE id = 12');

    await source.query(`INSERT INTO odd_keys VALUES
      ('NaN', 'infinity', '', '', 1), ('-0.0', '-infinity', '\\x00', E'\\U0001F600', 2),
      ('1.50', '2025-01-01 00:00:00.000001+00', '\\x00ff', 'same', 3), ('1.5', '2025-01-01 00:00:00.000001+00', '\\x00ff', 'other', 4),
      (99999999999999999999.000000000001, '1999-12-31 23:59:59.999999-14', '\\xdeadbeef', 'with ''quote'' and "double"', 5)`);
    await source.query("UPDATE odd_keys SET v = v * 10 WHERE k_num = 1.5"); // 1.50 and 1.5: equal numbers of different scale, both rows
    await source.query("UPDATE odd_keys SET k_text = E'moved \\U0010FFFF' WHERE k_num = 'NaN'");
    await source.query("DELETE FROM odd_keys WHERE k_bytes = '\\x00'");

    const digests = await expectBackupEqualsSource(system);
    expect(digests.types_matrix.count).toBe(7);
    expect(digests.odd_keys.count).toBe(4);
  });
});
