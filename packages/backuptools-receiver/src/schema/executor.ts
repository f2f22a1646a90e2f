import type { Kysely, Transaction } from 'kysely';

/** Anything a `sql` template can execute on: the pool or a transaction. */
export type Executor = Kysely<Record<string, never>> | Transaction<Record<string, never>>;
