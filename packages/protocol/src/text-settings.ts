/**
 * Values travel as PostgreSQL's text output and are read back with the type's input function.
 * The text of a date, an interval or a float depends on session settings; both ends pin these,
 * passed as the libpq `options` startup parameter, so that the sender prints and the receiver
 * reads the same, whatever the servers' defaults (a `DateStyle` of `SQL, DMY` would otherwise
 * swap day and month).
 */
export const TEXT_SESSION_OPTIONS = '-c DateStyle=ISO,MDY -c IntervalStyle=postgres -c TimeZone=UTC -c extra_float_digits=3 -c bytea_output=hex';

/**
 * The `options` startup parameter for a connection string: whatever the URL already passes
 * (the seed's `options=--search_path%3D...`) followed by the text settings above. (node-postgres
 * would otherwise let an explicit `options` replace the URL's.)
 */
export function sessionOptionsFor(connectionString: string): string {
  let fromUrl: string | null = null;
  try {
    fromUrl = new URL(connectionString).searchParams.get('options');
  } catch {
    // Not a URL (a libpq key=value string): only our settings.
  }
  return fromUrl ? `${fromUrl} ${TEXT_SESSION_OPTIONS}` : TEXT_SESSION_OPTIONS;
}
