/**
 * Compose's variable substitution in one value: `$$` is a literal `$`; `$VAR` and `${VAR}` take
 * the variable; `${VAR:-default}` / `${VAR-default}` fall back when it is empty / unset;
 * `${VAR:?message}` / `${VAR?message}` make it required. A variable that would be blank, or a
 * required one without a value, is a problem: the compose files must say where each value comes
 * from (a default, or `.env.example`).
 */
export function interpolate(text: string, variables: ReadonlyMap<string, string>, problems: string[], where: string): string {
  return text.replace(/\$(?:(\$)|\{([A-Za-z_]\w*)(?:(:?)([-?])([^}]*))?\}|([A-Za-z_]\w*))/g, (_match, dollar: string | undefined, braced: string | undefined, colon: string, kind: string | undefined, argument: string, bare: string | undefined) => {
    if (dollar !== undefined) return '$';
    const name = (braced ?? bare)!;
    const value = variables.get(name);
    const missing = colon === ':' ? value === undefined || value === '' : value === undefined;
    if (!missing) return value!;
    if (kind === '-') return argument;
    if (kind === '?') problems.push(`${where}: \${${name}} is required ("${argument}") but .env.example does not set it`);
    else problems.push(`${where}: \${${name}} has no default and .env.example does not set it (compose would use an empty string)`);
    return '';
  });
}
