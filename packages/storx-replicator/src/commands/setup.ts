import { ConfigError, formatFlagsHelp, formatOptionsHelp, parseCommandLine } from '@storx-backup/service-kit';
import { DEFAULT_CONFIG_PATH, ENV_PREFIX, loadReplicatorConfig, REPLICATOR_OPTIONS } from '../config.js';
import { ConfigFileExistsError, writeConfigFile } from '../inspect/config-file.js';
import { renderConfigYaml } from '../inspect/config-yaml.js';
import { checkKeys } from '../inspect/key-checks.js';
import type { Command } from '@storx-backup/service-kit';

const FLAGS = {
  config: { type: 'string', description: `config file to write (default: STORX_CONFIG, else ${DEFAULT_CONFIG_PATH}, where run looks for it)` },
  force: { type: 'boolean', description: 'overwrite an existing config file' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

export const setupCommand: Command = {
  name: 'setup',
  summary: 'write the config file (the seed\'s "replication setup")',
  async run(argv, context) {
    const parsed = parseCommandLine(argv, REPLICATOR_OPTIONS, FLAGS, 'storx-replicator setup');
    if (parsed.flags['help']) {
      context.stdout(`Usage: storx-replicator setup --database URL --replication.webhook-url URL
         --replication.webhook-public-key FILE --replication.signing-key FILE [options]

Writes the YAML config file run reads, in the seed's layout: database at the top, the
replication options nested under "replication:". It contains the options given here plus
slot-name, publication-name and tables with their defaults; everything else keeps its default.
The file is created with mode 0600 (it holds the database password), with its directories.
Every value is checked before anything is written, and the key files (and the webhook CA, if
given) must load; an existing file is kept unless --force. Exit 0 written, 1 the file exists
(kept), 2 an invalid value or a key file that does not load (nothing written).

The signing key is this sender's Ed25519 private key: create it with
"storx-replicator keys generate --out DIR".

${formatFlagsHelp(FLAGS)}

Options (the environment variables shown are read by run, status and doctor; setup writes
only what is given as flags):
${formatOptionsHelp(REPLICATOR_OPTIONS, ENV_PREFIX)}
`);
      return 0;
    }
    const path = (parsed.flags['config'] as string | undefined) ?? context.env[`${ENV_PREFIX}CONFIG`] ?? DEFAULT_CONFIG_PATH;

    // Everything run would refuse is refused here, before a file exists, naming the flag.
    let checked;
    try {
      checked = loadReplicatorConfig({ env: {}, flags: parsed.options, configFile: false }, 'run');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const hint = parsed.options.has('replication.signing-key') ? '' : '\nhint: create the signing key with "storx-replicator keys generate --out DIR" and pass --replication.signing-key DIR/storx_signing_private.pem\n';
      context.stderr(`error: ${error.message}\nnothing was written.${hint}\n`);
      return 2;
    }
    // The key files too (the receiver's public key, our signing key, the CA): a config naming a
    // key that does not load would only fail later, in run.
    const keyProblems = (await checkKeys(checked)).items.filter((item) => !item.ok);
    if (keyProblems.length > 0) {
      context.stderr(`${keyProblems.map((item) => `error: ${item.title}\nfix: ${item.fix.join('\n     ')}\n`).join('')}nothing was written.\n`);
      return 2;
    }

    const text = renderConfigYaml(REPLICATOR_OPTIONS, parsed.options);
    try {
      await writeConfigFile(path, text, parsed.flags['force'] === true);
    } catch (error) {
      if (!(error instanceof ConfigFileExistsError)) throw error;
      context.stderr(`error: ${error.message}\n`);
      return 1;
    }
    // What run will read is the file, not the flags: load it back exactly as run does.
    loadReplicatorConfig({ env: {}, flags: new Map(), configFile: path }, 'run');

    const config = path === DEFAULT_CONFIG_PATH ? '' : ` --config ${quoteArgument(path)}`;
    context.stdout(`wrote ${path} (mode 0600: it holds the database password)

Next:
  storx-replicator doctor${config}   checks the seed's quick checklist: wal_level, privileges, tables, keys, receiver
  storx-replicator run${config}      starts replicating (creates the slot and the publication if missing)
  storx-replicator status${config}   shows the slot, its lag, the publication and the receiver
`);
    return 0;
  },
};

/** Shell-quotes a path only when it needs it. */
function quoteArgument(text: string): string {
  return /^[\w./~-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
