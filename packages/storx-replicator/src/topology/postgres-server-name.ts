/** host:port of a PostgreSQL URL, for the report (never the user or password). */
export function postgresServerName(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}`;
  } catch {
    return 'unparsable URL';
  }
}
