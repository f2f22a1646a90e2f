/** INFO's `name:value` lines as a map (section headers and blank lines left out). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** A master's `slave0:ip=10.0.0.2,port=6380,state=online,offset=123,lag=0` line. */
export interface ConnectedReplica {
  address: string;
  state: string;
  offset: number;
  /** Seconds since its last acknowledgement. */
  lagSeconds: number;
}

export function connectedReplicas(fields: ReadonlyMap<string, string>): ConnectedReplica[] {
  const count = Number(fields.get('connected_slaves') ?? 0);
  const replicas: ConnectedReplica[] = [];
  for (let index = 0; index < count; index += 1) {
    const line = fields.get(`slave${index}`);
    if (line === undefined) continue;
    const parts = new Map(line.split(',').map((part) => part.split('=', 2) as [string, string]));
    replicas.push({ address: `${parts.get('ip') ?? '?'}:${parts.get('port') ?? '?'}`, state: parts.get('state') ?? '?', offset: Number(parts.get('offset') ?? 0), lagSeconds: Number(parts.get('lag') ?? 0) });
  }
  return replicas;
}
