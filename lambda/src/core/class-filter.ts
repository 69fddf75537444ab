import { InvalidParameterError } from './errors';

/** How a class name is compared: case, spaces, '_' and '-' do not matter ('Traffic_Light' = 'traffic light'). */
export const normalizeClassName = (s: string): string =>
  s
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '');

/** Edit distance (insertions, deletions, substitutions), two rows at a time. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/**
 * Labels close to `name`: within edit distance 2, or starting with it ('traff' → 'traffic light'),
 * closest first, at most `limit`.
 */
export function closeMatches(name: string, labels: readonly string[], limit = 5): string[] {
  const wanted = normalizeClassName(name);
  if (wanted === '') return [];
  return labels
    .map((label, index) => {
      const norm = normalizeClassName(label);
      const distance = levenshtein(wanted, norm);
      const close = distance <= 2 || norm.startsWith(wanted);
      return { label, index, close, rank: norm.startsWith(wanted) ? Math.min(distance, 1) : distance };
    })
    .filter((m) => m.close)
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .slice(0, limit)
    .map((m) => m.label);
}

/**
 * The class ids a `classes` option selects, checked against the model's labels: a token of digits
 * is a class id (the label's index), anything else a label name (see {@link normalizeClassName}).
 * An unknown name or an id out of range is INVALID_PARAMETER 'classes', naming close matches.
 */
export function resolveClasses(tokens: readonly string[], labels: readonly string[]): Set<number> {
  const byName = new Map<string, number>();
  labels.forEach((label, index) => {
    const key = normalizeClassName(label);
    if (!byName.has(key)) byName.set(key, index);
  });
  const ids = new Set<number>();
  const problems: string[] = [];
  for (const token of tokens) {
    if (/^\d+$/.test(token)) {
      const id = Number(token);
      if (id < labels.length) ids.add(id);
      else problems.push(`class id ${token} is out of range (0 to ${labels.length - 1})`);
      continue;
    }
    const id = byName.get(normalizeClassName(token));
    if (id !== undefined) {
      ids.add(id);
      continue;
    }
    const close = closeMatches(token, labels);
    problems.push(
      close.length > 0
        ? `unknown class ${JSON.stringify(token)} (did you mean ${close.map((c) => `'${c}'`).join(', ')}?)`
        : `unknown class ${JSON.stringify(token)}`,
    );
  }
  if (problems.length > 0) {
    const sample = labels
      .slice(0, 5)
      .map((l) => `'${l}'`)
      .join(', ');
    throw new InvalidParameterError(
      'classes',
      `'classes': ${problems.join('; ')}. Give the model's class names (e.g. ${sample}) or ids (0 to ${labels.length - 1}), comma-separated.`,
    );
  }
  return ids;
}
