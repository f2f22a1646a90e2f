// Narrowing for parsed YAML and JSON, which arrive as `unknown`: a deployment file is input,
// and a wrong shape must become a problem message, not a crash or an `any`.

export type UnknownRecord = Readonly<Record<string, unknown>>;

export function asRecord(value: unknown): UnknownRecord | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as UnknownRecord) : undefined;
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
}

export function asStrings(value: unknown): string[] {
  return asArray(value).flatMap((item) => asString(item) ?? []);
}
