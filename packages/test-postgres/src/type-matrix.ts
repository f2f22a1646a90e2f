/**
 * The awkward-types fixture shared by the receiver's byte-exact test and the end-to-end type
 * scenario: user-defined types (enum, domain, composite), a table with one column per awkward
 * type, and rows at the edges (numeric extremes and NaN, ±infinity, microseconds, JSON null vs
 * SQL null, arrays with NULL elements, every Unicode plane, 1 MB bytea with every byte value).
 */

/** The user-defined types; they must exist on the backup too (the receiver refuses unknown types). */
export function typeMatrixTypesDdl(schema: string): string[] {
  return [
    `CREATE TYPE "${schema}".status AS ENUM ('pending', 'committed', 'with space')`,
    `CREATE DOMAIN "${schema}".positive AS integer CHECK (VALUE > 0)`,
    `CREATE TYPE "${schema}".pair AS (a integer, b text)`,
  ];
}

export function typeMatrixTableDdl(schema: string): string {
  return `CREATE TABLE "${schema}".types_matrix (
  id integer PRIMARY KEY,
  n numeric(38,10), n_free numeric, i8 bigint, i2 smallint, f8 double precision, f4 real,
  ts timestamp, tstz timestamptz, d date, tm time, tmtz timetz, iv interval,
  b bytea, tx text, vc varchar(10), ch char(5),
  j json, jb jsonb,
  arr integer[], tarr text[], grid integer[][],
  st "${schema}".status, pos "${schema}".positive, pr "${schema}".pair,
  r int4range, tsr tstzrange, u uuid, ip inet, net cidr, bv bit varying(16), mac macaddr, pt point, flag boolean
)`;
}

/** Session settings pinned as the replicator and receiver pin them, for comparing row text. */
export const TYPE_MATRIX_SESSION_SETTINGS = ["SET DateStyle = 'ISO, MDY'", "SET IntervalStyle = 'postgres'", "SET TimeZone = 'UTC'", 'SET extra_float_digits = 3', "SET bytea_output = 'hex'"];

/** `VALUES` tuples for ids 1-3, in column order. */
export const TYPE_MATRIX_ROWS = [
  `(1, 99999999999999999999999999.9999999999, 'NaN', 9223372036854775807, -32768, 'NaN', '-Infinity',
    '2025-12-06 10:20:00.123456', '2025-12-06 10:20:00.123456+05:30', '2025-12-06', '23:59:59.999999', '10:20:00.5+02', '1 year 2 mons 3 days 04:05:06.789',
    '', 'plain', 'abc', 'ab',
    '{"b": 1,  "a": [1, 2.50], "a": "dup"}', '{"b": 1, "a": [1, 2.50]}',
    '{1,NULL,3}', '{"a,b","quote\\"d",NULL,"",back\\\\slash}', '{{1,2},{3,4}}',
    'with space', 7, '(1,"x, y")', '[1,10)', '[2025-01-01 00:00:00+00,infinity)', '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', '192.168.0.1/24', '10.0.0.0/8', B'1011', '08:00:2b:01:02:03', '(1.5,-2.25)', true)`,
  `(2, -99999999999999999999999999.9999999999, '0.000000000000000000000000000001', -9223372036854775808, 32767, 1e-308, 3.4028235e38,
    'infinity', '-infinity', 'infinity', '00:00:00', '00:00:00-14', '-178000000 years',
    '\\x00ff00', E'\\u00e9\\u4e2d\\U0001F600\\U0010FFFF tab\\there', NULL, NULL,
    'null', 'null',
    '{}', '{NULL}', NULL,
    'committed', NULL, '(,)', 'empty', NULL, NULL, '::1', '2001:db8::/32', B'', NULL, NULL, false)`,
  `(3, 0, NULL, 0, 0, '-0', 'Infinity',
    '0001-01-01 00:00:00 BC', '1999-12-31 23:59:59.999999+00', '4713-01-01 BC', '24:00:00', '24:00:00+00', '0',
    NULL, NULL, '', '     ', NULL, NULL,
    NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
];

/** Inserts row `id`: only a 1 MB bytea holding every byte value, NUL included. */
export function typeMatrixBigByteaInsert(schema: string, id: number): string {
  return `INSERT INTO "${schema}".types_matrix (id, b) SELECT ${id}, decode(repeat(string_agg(lpad(to_hex(g), 2, '0'), ''), 4096), 'hex') FROM generate_series(0, 255) g`;
}
