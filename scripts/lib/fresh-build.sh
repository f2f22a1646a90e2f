# Sourced (after scripts/lib/pnpm.sh) by scripts/demo, scripts/test and scripts/bench:
# `fresh_build ROOT` runs `pnpm install --frozen-lockfile` and `pnpm build` only when the
# lockfile, a package.json or tsconfig, or a source file changed since the last successful build
# of this checkout (scripts/lib/source-fingerprint.mjs); otherwise it returns at once. The stamp
# lives in node_modules/, so removing node_modules forces both again.
fresh_build() {
  local root="$1" stamp="$1/node_modules/.storx-build-stamp" now
  now="$(node "$root/scripts/lib/source-fingerprint.mjs" "$root" 2>/dev/null)" || now=""
  if [ -n "$now" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$now" ]; then
    return 0
  fi
  echo "installing and building (pnpm install --frozen-lockfile, pnpm build)..." >&2
  (cd "$root" && pnpm install --frozen-lockfile >/dev/null 2>&1) || { (cd "$root" && pnpm install --frozen-lockfile); echo "pnpm install failed" >&2; return 1; }
  (cd "$root" && pnpm build >/dev/null 2>&1) || { (cd "$root" && pnpm build); echo "build failed" >&2; return 1; }
  [ -n "$now" ] && echo "$now" >"$stamp"
  return 0
}
