/**
 * Double-quotes an identifier for SQL shown to an operator. Used where the server cannot
 * quote it for us (no connection): always quoting is correct even for a keyword such as `user`.
 */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
