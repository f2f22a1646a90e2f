import { generateEd25519KeyPair, writeKeyPair } from '@storx-backup/protocol';
import { formatFlagsHelp, parseCommandLine, UsageError } from '@storx-backup/service-kit';
import type { Command } from '@storx-backup/service-kit';

const FLAGS = {
  out: { type: 'string', description: 'directory to write the key pair into (created if missing)' },
  name: { type: 'string', description: 'file name prefix (default storx_signing: storx_signing_private.pem, storx_signing_public.pem)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

export const keysGenerateCommand: Command = {
  name: 'keys generate',
  summary: 'create the Ed25519 key pair every request is signed with',
  async run(argv, context) {
    const parsed = parseCommandLine(argv, [], FLAGS, 'storx-replicator keys generate');
    if (parsed.flags['help']) {
      context.stdout(`Usage: storx-replicator keys generate --out DIR [--name storx_signing]

Writes <name>_private.pem (mode 0600: stays on this host; set replication.signing-key to it) and
<name>_public.pem (give it to the backup host: list it in the receiver's trusted-sender-keys).
Never overwrites an existing file.

${formatFlagsHelp(FLAGS)}
`);
      return 0;
    }
    const out = parsed.flags['out'];
    if (typeof out !== 'string') throw new UsageError('keys generate needs --out DIR. Run "storx-replicator keys generate --help".');
    const name = (parsed.flags['name'] as string | undefined) ?? 'storx_signing';
    const written = await writeKeyPair(out, name, generateEd25519KeyPair());
    context.stdout(`wrote ${written.privateKeyPath} (private, 0600: keep it on this host; set replication.signing-key to it)
wrote ${written.publicKeyPath} (public: copy it to the backup host and add it to the receiver's trusted-sender-keys)
`);
    return 0;
  },
};
