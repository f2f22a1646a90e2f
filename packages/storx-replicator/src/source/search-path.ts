/**
 * The schemas of a `search_path` setting as PostgreSQL reads it: comma-separated, quoted names
 * kept as written, unquoted ones folded to lower case, `$user` standing for the current user.
 * (`pg_temp` and the implicit `pg_catalog` are left out: configured tables never live there.)
 */
export function parseSearchPath(text: string, currentUser: string): string[] {
  const schemas: string[] = [];
  let index = 0;
  while (index < text.length) {
    while (text[index] === ' ' || text[index] === '\t') index += 1;
    let name = '';
    if (text[index] === '"') {
      index += 1;
      for (; index < text.length; index += 1) {
        if (text[index] === '"') {
          if (text[index + 1] !== '"') break;
          index += 1;
        }
        name += text[index];
      }
      index += 1;
      while (index < text.length && text[index] !== ',') index += 1;
    } else {
      const end = text.indexOf(',', index);
      name = text.slice(index, end === -1 ? text.length : end).trim().toLowerCase();
      index = end === -1 ? text.length : end;
    }
    index += 1; // the comma
    if (name === '$user') schemas.push(currentUser);
    else if (name !== '' && name !== 'pg_temp') schemas.push(name);
  }
  return schemas;
}
