/**
 * How the backup's labels of an enum relate to the labels the source sends (both in sort order):
 * - `same`;
 * - `backup-ahead`: the source's are an ordered subsequence of the backup's (metadata read before
 *   the source gained a label the backup already has): every source value fits, nothing to do;
 * - `add`: the backup's are an ordered subsequence of the source's (the source ran
 *   `ALTER TYPE ... ADD VALUE`): `steps` add the missing labels, in order, each placed after the
 *   label before it on the source (or before the first when it comes first);
 * - `differs`: a label was renamed or removed, or the order differs: nothing safe to do.
 */
export type EnumLabelPlan =
  | { kind: 'same' }
  | { kind: 'backup-ahead' }
  | { kind: 'differs' }
  | { kind: 'add'; steps: readonly EnumLabelStep[] };

/** One `ALTER TYPE ... ADD VALUE label [BEFORE | AFTER neighbour]`. */
export interface EnumLabelStep {
  label: string;
  place: { before: string } | { after: string } | undefined;
}

export function planEnumLabels(backup: readonly string[], source: readonly string[]): EnumLabelPlan {
  if (backup.length === source.length && backup.every((label, index) => label === source[index])) return { kind: 'same' };
  if (isOrderedSubsequence(source, backup)) return { kind: 'backup-ahead' };
  if (!isOrderedSubsequence(backup, source)) return { kind: 'differs' };
  const present = new Set(backup);
  const steps: EnumLabelStep[] = [];
  source.forEach((label, index) => {
    if (present.has(label)) return;
    // Processed in source order, so the previous source label exists by the time this one is added.
    const place = index > 0 ? { after: source[index - 1]! } : backup.length > 0 ? { before: backup[0]! } : undefined;
    steps.push({ label, place });
  });
  return { kind: 'add', steps };
}

/** True when every element of `part` occurs in `whole`, in the same order. */
function isOrderedSubsequence(part: readonly string[], whole: readonly string[]): boolean {
  let at = 0;
  for (const label of whole) if (at < part.length && label === part[at]) at += 1;
  return at === part.length;
}
