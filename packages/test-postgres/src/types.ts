import type { PgMajor } from './versions.js';

/** Where a cluster comes from; see `startCluster` for the order they are tried in. */
export type PgBackend = 'env' | 'container' | 'embedded';

/**
 * How the server is shut down, as in `pg_ctl stop -m <mode>`:
 * - `fast`: clients are disconnected, a shutdown checkpoint is written (a clean stop);
 * - `immediate`: every process quits at once, the next start runs crash recovery
 *   (what end-to-end tests use to simulate a crashed source database).
 */
export type ShutdownMode = 'fast' | 'immediate';

export interface StartClusterOptions {
  /**
   * Role of the cluster (`source`, `backup`, …). It picks the per-role environment URL
   * (`STORX_TEST_SOURCE_URL` / `STORX_TEST_BACKUP_URL`) and names the embedded data directory.
   */
  name?: string;
  /**
   * Use this backend and no other (no fallback). Tests that crash and restart the server
   * pass `'embedded'`: only that backend can restart. Defaults to `STORX_TEST_PG_BACKEND`
   * when set, else automatic selection.
   */
  backend?: PgBackend;
  /**
   * Server settings overriding the defaults (embedded backend only; the others refuse it), for
   * tests of a misconfigured server, e.g. `{ wal_level: 'replica' }`.
   */
  settings?: Readonly<Record<string, string>>;
  /**
   * PostgreSQL major version (default `PG_DEFAULT_MAJOR`, 17): embedded binaries of that major,
   * or the `postgres:<major>` image. An env server of another major is refused.
   */
  version?: PgMajor;
}

export interface PgCluster {
  readonly name: string;
  readonly backend: PgBackend;
  /** Superuser URL to the `postgres` database. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Directory holding everything of this cluster, removed by `stop()` (embedded only). */
  readonly directory: string | undefined;
  /** PGDATA (embedded only). */
  readonly dataDir: string | undefined;
  /** Directory with the embedded `postgres`, `initdb` and `pg_ctl` binaries (embedded only). */
  readonly binDir: string | undefined;
  /** PostgreSQL major version of the server (e.g. 17). */
  readonly major: number;
  /** The postmaster's pid while the server runs (embedded only). */
  readonly pid: number | undefined;
  /** Creates a database with a unique name starting with `prefix`; returns its superuser URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Stops the server, keeping its data (embedded only; default mode `fast`). */
  stopServer(mode?: ShutdownMode): Promise<void>;
  /** Starts a stopped server again on the same port, so `url` stays valid (embedded only). */
  startServer(): Promise<void>;
  /** `stopServer(mode)` then `startServer()` (embedded only; default mode `fast`). */
  restart(options?: { mode?: ShutdownMode }): Promise<void>;
  /** Stops the server and removes all its data. Idempotent; a no-op for `env` clusters. */
  stop(): Promise<void>;
}
