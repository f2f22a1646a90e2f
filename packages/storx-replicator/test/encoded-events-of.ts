import type { ChangeEvent } from '@storx-backup/protocol';
import { EncodedEvents } from '../src/batch/encoded-events.js';

/** Events as a batch carries them (their JSON, each followed by a comma), for tests that make batches by hand. */
export function encodedEventsOf(events: readonly ChangeEvent[]): EncodedEvents {
  const encoded = new EncodedEvents();
  encoded.add(Buffer.from(events.map((event) => `${JSON.stringify(event)},`).join(''), 'utf8'), events.length);
  return encoded;
}
