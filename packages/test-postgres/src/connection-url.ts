// Small helpers over `postgres://user:password@host:port/database` URLs. WHATWG URL parses
// the authority of non-special schemes, which is all we need; pg itself re-parses the URL.

export interface ConnectionParts {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export function parseConnectionUrl(url: string): ConnectionParts {
  const parsed = new URL(url);
  return {
    // `postgres:///db?host=/run/postgresql` (a Unix socket) has no hostname.
    host: parsed.hostname || (parsed.searchParams.get('host') ?? 'localhost'),
    port: parsed.port === '' ? 5432 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')),
  };
}

/** The same URL pointing at another database of the same server. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** For error messages: never print a password. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable URL>';
  }
}
