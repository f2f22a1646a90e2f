# Sourced by scripts: `pnpm` is the pinned version, from PATH if present, else through npx
# (a fresh machine has only Node and npm; corepack fails its signature check here).
PNPM_VERSION=10.34.9
pnpm() {
  if command -v pnpm >/dev/null 2>&1 && [ "$(command pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then
    command pnpm "$@"
  else
    npx -y "pnpm@$PNPM_VERSION" "$@"
  fi
}
