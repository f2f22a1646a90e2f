import { withClient } from './client.js';
import { parseConnectionUrl, redactUrl } from './connection-url.js';
import { createDatabase } from './database.js';
import type { PgCluster } from './types.js';

const SHARED_URL_VARIABLE = 'STORX_TEST_DATABASE_URL';
const ROLE_URL_VARIABLES: Readonly<Record<string, string>> = {
  source: 'STORX_TEST_SOURCE_URL',
  backup: 'STORX_TEST_BACKUP_URL',
};

export interface UrlFromEnvironment {
  variable: string;
  url: string;
}

/** The per-role variable wins over the shared one; empty values count as unset. */
export function urlFromEnvironment(name: string): UrlFromEnvironment | undefined {
  const roleVariable = ROLE_URL_VARIABLES[name];
  for (const variable of roleVariable === undefined ? [SHARED_URL_VARIABLE] : [roleVariable, SHARED_URL_VARIABLE]) {
    const url = process.env[variable];
    if (url !== undefined && url !== '') return { variable, url };
  }
  return undefined;
}

/**
 * A server someone else runs: used as is and never stopped. Checked with a query first,
 * so a wrong URL fails at start-up with its variable's name rather than in some test.
 */
export async function useEnvironmentCluster(name: string, { variable, url }: UrlFromEnvironment): Promise<PgCluster> {
  let major: number;
  try {
    major = await withClient(url, async (client) => (await client.query<{ major: number }>("SELECT current_setting('server_version_num')::int / 10000 AS major")).rows[0]!.major);
  } catch (error) {
    throw new Error(`${variable} (${redactUrl(url)}) is not reachable: ${(error as Error).message}`, { cause: error });
  }
  const { host, port, user, password } = parseConnectionUrl(url);
  const cannot = (what: string): Promise<never> =>
    Promise.reject(
      new Error(
        `Cannot ${what} cluster "${name}": it comes from ${variable} and is not ours to control. ` +
          `Tests that crash or restart the server start their own with startCluster({ backend: 'embedded' }).`,
      ),
    );
  return {
    name,
    backend: 'env',
    major,
    url,
    host,
    port,
    user,
    password,
    directory: undefined,
    dataDir: undefined,
    binDir: undefined,
    pid: undefined,
    createDatabase: (prefix) => createDatabase(url, prefix),
    stopServer: () => cannot('stop the server of'),
    startServer: () => cannot('start the server of'),
    restart: () => cannot('restart'),
    stop: () => Promise.resolve(),
  };
}
