// A least-privilege replication role does not own the tables, so it cannot create the
// publication: the replicator must say so, with the statement the owner runs, not PostgreSQL's
// bare "must be owner of table".
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type pg from 'pg';
import { connect, createDatabase } from '@storx-backup/test-postgres';
import { quietLogger } from './support.js';
import { ensurePublication } from '../src/source/publication.js';
import { requireTables } from '../src/source/source-tables.js';

const role = `pub_${randomBytes(4).toString('hex')}`;
let owner: pg.Client;
let replicatorUser: pg.Client;
beforeAll(async () => {
  const url = await createDatabase(inject('pgSourceUrl'), 'publication');
  owner = await connect(url);
  await owner.query('CREATE TABLE objects (id integer PRIMARY KEY)');
  await owner.query(`CREATE ROLE ${role} LOGIN REPLICATION PASSWORD 'pw'`);
  await owner.query(`GRANT SELECT ON objects TO ${role}`);
  const asRole = new URL(url);
  asRole.username = role;
  asRole.password = 'pw';
  replicatorUser = await connect(asRole.toString());
});
afterAll(async () => {
  await replicatorUser.end();
  await owner.query(`DROP PUBLICATION IF EXISTS backuptools_pub; DROP OWNED BY ${role}; DROP ROLE ${role}`);
  await owner.end();
});

describe('publication', () => {
  it('tells a user who does not own the tables which statement the owner must run', async () => {
    const tables = await requireTables(replicatorUser, ['objects']);
    const failure = await ensurePublication(replicatorUser, 'backuptools_pub', tables, quietLogger).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'PUBLICATION_MISSING', fixLines: ["-- as the tables' owner (or a superuser), once:", 'CREATE PUBLICATION backuptools_pub FOR TABLE "public"."objects";'] });
    await owner.query('CREATE PUBLICATION backuptools_pub FOR TABLE "public"."objects"');
    await expect(ensurePublication(replicatorUser, 'backuptools_pub', tables, quietLogger)).resolves.toBeUndefined();
  });

  it('refuses a partitioned table: its changes are published under its partitions\' names', async () => {
    await owner.query('CREATE TABLE events (id integer, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)');
    const failure = await requireTables(owner, ['events']).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'TABLE_PARTITIONED', fixLines: [expect.stringContaining('list its partitions in replication.tables') as string] });
  });
});
