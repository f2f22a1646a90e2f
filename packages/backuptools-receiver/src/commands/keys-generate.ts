import { DEFAULT_RSA_BITS, generateRsaKeyPair, MIN_RSA_BITS, writeKeyPair } from '@storx-backup/protocol';
import { formatFlagsHelp, parseCommandLine, UsageError } from '@storx-backup/service-kit';
import type { Command } from '@storx-backup/service-kit';

const FLAGS = {
  out: { type: 'string', description: 'directory to write the key pair into (created if missing)' },
  bits: { type: 'string', description: `RSA key size in bits (default ${DEFAULT_RSA_BITS}, at least ${MIN_RSA_BITS})` },
  name: { type: 'string', description: 'file name prefix (default backuptools: backuptools_private.pem, backuptools_public.pem)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

export const keysGenerateCommand: Command = {
  name: 'keys generate',
  summary: 'create the RSA key pair batches are encrypted to',
  async run(argv, context) {
    const parsed = parseCommandLine(argv, [], FLAGS, 'backuptools-receiver keys generate');
    if (parsed.flags['help']) {
      context.stdout(`Usage: backuptools-receiver keys generate --out DIR [--bits ${DEFAULT_RSA_BITS}] [--name backuptools]

Writes <name>_private.pem (mode 0600: stays on this host) and <name>_public.pem (give it to the
source host as replication.webhook-public-key). Never overwrites an existing file.

${formatFlagsHelp(FLAGS)}
`);
      return 0;
    }
    const out = parsed.flags['out'];
    if (typeof out !== 'string') throw new UsageError('keys generate needs --out DIR. Run "backuptools-receiver keys generate --help".');
    const bitsText = (parsed.flags['bits'] as string | undefined) ?? String(DEFAULT_RSA_BITS);
    const bits = Number(bitsText);
    if (!Number.isInteger(bits) || bits < MIN_RSA_BITS) throw new UsageError(`--bits must be a whole number of at least ${MIN_RSA_BITS}, got ${JSON.stringify(bitsText)}`);
    const name = (parsed.flags['name'] as string | undefined) ?? 'backuptools';
    const written = await writeKeyPair(out, name, generateRsaKeyPair(bits));
    context.stdout(`wrote ${written.privateKeyPath} (private, 0600: keep it on this host; list it in private-keys)
wrote ${written.publicKeyPath} (public: copy it to the source host and set replication.webhook-public-key to it)
`);
    return 0;
  },
};
