// Prints one hash of everything `pnpm install` and `pnpm build` read: the lockfile, every
// package.json and tsconfig, every source file, and the Node version (native modules). Equal to
// the one stored after the last successful build means nothing needs installing or building
// (scripts/lib/fresh-build.sh). Content, not mtimes: a checkout or `git stash` that restores a
// file restores its hash. About 0.1 s for the whole repository.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2] ?? '.';
const hash = createHash('sha256').update(process.version);
const add = (path) => {
  hash.update(path).update('\0');
  if (existsSync(join(root, path))) hash.update(readFileSync(join(root, path)));
  hash.update('\0');
};
const walk = (dir) => {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) walk(path);
    else add(path);
  }
};
for (const file of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'tsconfig.json', 'tsconfig.base.json']) add(file);
for (const name of readdirSync(join(root, 'packages')).sort()) {
  const dir = `packages/${name}`;
  for (const file of readdirSync(join(root, dir)).sort()) {
    if (file === 'package.json' || file.startsWith('tsconfig')) add(`${dir}/${file}`);
  }
  for (const sub of ['src', 'bin']) if (existsSync(join(root, dir, sub))) walk(`${dir}/${sub}`);
  // A missing dist/ (git clean, a fresh clone with an old stamp) must rebuild whatever the hash says.
  hash.update(existsSync(join(root, dir, 'dist')) || !existsSync(join(root, dir, 'tsconfig.build.json')) ? 'built' : 'unbuilt');
}
process.stdout.write(`${hash.digest('hex')}\n`);
