/**
 * A port another process holds (`listen EADDRINUSE: address already in use 0.0.0.0:9187`) as
 * one line with its fix, instead of a stack trace; undefined for any other error. `option`
 * names the setting that chose the address.
 */
export function addressInUse(error: unknown, option: string): string | undefined {
  const { code, address, port } = (error ?? {}) as { code?: unknown; address?: unknown; port?: unknown };
  if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') return undefined;
  const where = typeof address === 'string' && typeof port === 'number' ? `${address.includes(':') ? `[${address}]` : address}:${port}` : 'the address';
  switch (code) {
    case 'EADDRINUSE':
      return `error: cannot listen on ${where}: another process already listens there\nfix: stop that process (ss -ltnp | grep ${typeof port === 'number' ? port : 'PORT'} shows which), or set ${option} to a free port\n`;
    case 'EACCES':
      return `error: cannot listen on ${where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)\nfix: set ${option} to a port of 1024 or above\n`;
    default:
      return `error: cannot listen on ${where}: no interface of this host has that address\nfix: set ${option} to an address of this host (0.0.0.0 for all)\n`;
  }
}
