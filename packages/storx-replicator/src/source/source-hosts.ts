/**
 * The servers a `database` URL names. libpq's multi-host form,
 * `postgres://user:pw@primary:5432,standby:5432/db?...`, names a primary and its standbys; each
 * becomes a URL of its own (node-postgres connects to one host and has no
 * `target_session_attrs`: the replicator finds the primary itself, see `findPrimary`). A plain
 * URL is returned as it is.
 */
export function expandSourceUrls(databaseUrl: string): string[] {
  const match = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/s.exec(databaseUrl);
  if (!match || !match[3]!.includes(',')) return [databaseUrl];
  const [, scheme, userinfo = '', hosts, rest] = match;
  return hosts!
    .split(',')
    .filter((host) => host !== '')
    .map((host) => `${scheme}${userinfo}${host}${withoutTargetSessionAttrs(rest!)}`);
}

/** libpq's `target_session_attrs` means nothing to node-postgres; the replicator does its job. */
function withoutTargetSessionAttrs(rest: string): string {
  return rest.replace(/([?&])target_session_attrs=[^&#]*&?/, '$1').replace(/[?&]$/, '');
}

/** `host:port` of a URL, for messages (never the password). */
export function hostOf(databaseUrl: string): string {
  return /^postgres(?:ql)?:\/\/(?:[^@/?#]*@)?([^/?#]*)/.exec(databaseUrl)?.[1] ?? '?';
}
