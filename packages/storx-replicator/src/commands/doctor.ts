import { ConfigError, formatFlagsHelp, formatOptionsHelp, parseCommandLine } from '@storx-backup/service-kit';
import { DEFAULT_CONFIG_PATH, ENV_PREFIX, loadReplicatorConfig, REPLICATOR_OPTIONS } from '../config.js';
import { type ChecklistItem, failed, formatChecklist, passed } from '../inspect/checklist-item.js';
import { checkBackupTables } from '../inspect/backup-tables-check.js';
import { checkDatabase } from '../inspect/database-checks.js';
import { checkFailover, failoverItems } from '../inspect/failover-report.js';
import { checkKeys } from '../inspect/key-checks.js';
import { checkReceiver } from '../inspect/receiver-check.js';
import { missingWebhookSettings } from '../inspect/webhook-settings.js';
import type { Command } from '@storx-backup/service-kit';

const FLAGS = {
  config: { type: 'string', description: `YAML config file (or STORX_CONFIG; default ${DEFAULT_CONFIG_PATH} when it exists)` },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

export const doctorCommand: Command = {
  name: 'doctor',
  summary: "check the seed's quick checklist item by item, with the fix for each failure",
  async run(argv, context) {
    const parsed = parseCommandLine(argv, REPLICATOR_OPTIONS, FLAGS, 'storx-replicator doctor');
    if (parsed.flags['help']) {
      context.stdout(`Usage: storx-replicator doctor [--config FILE] [options]

Goes through the seed's quick checklist and marks each item ✓ or ✗; every ✗ comes with its
fix (the seed's troubleshooting words, SQL naming the real user, database, schema and table):

PostgreSQL:   the service can connect; wal_level = logical; the user has REPLICATION;
              CONNECT on the database; max_replication_slots and max_wal_senders leave a
              slot and a WAL sender for the replicator; the tables exist on the connection's
              search_path; USAGE on their schema; SELECT on each; none is partitioned; each
              has a primary key or REPLICA IDENTITY FULL; the publication publishes them, or
              this user may create or change it (else the owner's statement is the fix);
              failover (every host the database URL names): on PostgreSQL 17+ the slot has
              failover = true, the primary's synchronized_standby_slots names each standby's
              physical slot, each standby has sync_replication_slots = on,
              hot_standby_feedback = on, primary_slot_name, dbname in primary_conninfo and
              wal_level = logical, and holds a synced, persistent, valid copy of the slot;
              below 17: a failover needs a resnapshot (!); one host and no standby: said so
StorXMonitor: the configuration loads; the receiver's RSA public key loads; the signing key
              loads (and the webhook CA, if set); the webhook URL is set
Backuptools:  the webhook URL answers a signed, encrypted ping and accepts our signature;
              the backup database can take each table: the ping carries the tables'
              metadata as the first copy would, and the receiver prepares each (types,
              enums, the table, its key, its privileges) in a transaction it rolls back;
              a type the backup lacks comes with its CREATE statement from the source

Every item is checked even after one fails. Nothing is created or changed: no slot, no
publication, nothing written to the receiver. Exit 0 when every item is ✓ or ! (a warning: the
service runs, but a failover would cost a resnapshot), 1 when an item is ✗, 2 when the
configuration itself does not load or for a command-line mistake (docs/cli.md).

${formatFlagsHelp(FLAGS)}

Options (flags > environment > config file > defaults):
${formatOptionsHelp(REPLICATOR_OPTIONS, ENV_PREFIX)}
`);
      return 0;
    }
    let config;
    try {
      // 'inspect': missing receiver settings become ✗ items below instead of one refusal here.
      config = loadReplicatorConfig({ env: context.env, flags: parsed.options, configFile: parsed.flags['config'] as string | undefined }, 'inspect');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const item = failed('StorXMonitor', `the configuration loads: ${error.message}`, ['fix the values named above (storx-replicator setup writes a complete config file)']);
      context.stdout(`${formatChecklist([item])}\nthe other checks need a configuration that loads.\n`);
      return 2; // a configuration mistake (docs/cli.md)
    }

    // With several source hosts, the checklist is about the primary among them.
    const failover = await checkFailover(config);
    const primaryUrl = failover.facts.primary?.url;
    const items: ChecklistItem[] = [...(await checkDatabase(primaryUrl === undefined ? config : { ...config, databaseUrl: primaryUrl })), ...failoverItems(failover.findings)];
    items.push(passed('StorXMonitor', `the configuration loads (${config.configFile === undefined ? 'no config file: flags and environment only' : `config file ${config.configFile}`})`));
    const { items: keyItems, keys } = await checkKeys(config);
    items.push(...keyItems);
    const urlSet = !missingWebhookSettings(config).includes('replication.webhook-url');
    items.push(urlSet ? passed('StorXMonitor', `webhook URL configured: ${config.webhookUrl.href}`) : failed('StorXMonitor', 'webhook URL configured: replication.webhook-url is not set', ["set replication.webhook-url to the receiver's endpoint, e.g. http://backup-host:8005/webhook"]));
    const receiver = await checkReceiver(config, keys, urlSet);
    items.push(receiver, ...(await checkBackupTables(config, keys, receiver.ok)));

    const failures = items.filter((item) => !item.ok && !item.warning).length;
    const warnings = items.filter((item) => item.warning).length;
    const warned = warnings === 0 ? '' : `, ${warnings} with a warning (!)`;
    context.stdout(
      `${formatChecklist(items)}\n${failures === 0 ? `all ${items.length} checks passed${warned}. "storx-replicator status" shows the slot, its lag and the publication.` : `${failures} of ${items.length} checks failed${warned}.`}\n`,
    );
    return failures === 0 ? 0 : 1;
  },
};
