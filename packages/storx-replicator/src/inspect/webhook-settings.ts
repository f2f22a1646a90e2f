import type { ReplicatorConfig } from '../config.js';

/**
 * The receiver settings that are not set. A config loaded for 'inspect' lets them be missing
 * and fills in placeholders (`http://unset.invalid/`, empty paths); status and doctor then
 * skip or fail the receiver check instead of refusing to look at the database.
 */
export function missingWebhookSettings(config: ReplicatorConfig): string[] {
  const missing: string[] = [];
  if (config.webhookUrl.hostname === 'unset.invalid') missing.push('replication.webhook-url');
  if (config.webhookPublicKeyPath === '') missing.push('replication.webhook-public-key');
  if (config.signingKeyPath === '') missing.push('replication.signing-key');
  return missing;
}
