import { SEED_MEDIA_TYPE, V2_MEDIA_TYPE, V3_MEDIA_TYPE } from '@storx-backup/protocol';

/**
 * The wire format a Content-Type names, or undefined for anything else. Media types are
 * case-insensitive (RFC 9110 §8.3.1) and may carry parameters: `APPLICATION/JOSE; x=y` is v2.
 */
export function webhookFormat(contentType: string | undefined): 'v3' | 'v2' | 'seed-v1' | undefined {
  const type = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  if (type === V3_MEDIA_TYPE) return 'v3';
  if (type === V2_MEDIA_TYPE) return 'v2';
  if (type === SEED_MEDIA_TYPE) return 'seed-v1';
  return undefined;
}
