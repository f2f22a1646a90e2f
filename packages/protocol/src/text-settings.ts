/**
 * Values travel as PostgreSQL's text output and are read back with the type's input function.
 * The text of a date, an interval or a float depends on session settings; both ends pin these,
 * passed as the libpq `options` startup parameter, so that the sender prints and the receiver
 * reads the same, whatever the servers' defaults (a `DateStyle` of `SQL, DMY` would otherwise
 * swap day and month).
 */
export const TEXT_SESSION_OPTIONS = '-c DateStyle=ISO,MDY -c IntervalStyle=postgres -c TimeZone=UTC -c extra_float_digits=3 -c bytea_output=hex';
