import type { EvaluationReport } from './evaluate';

/** The report as `npm run models:evaluate` prints it: a table per photo, the totals, the verdict. */

const num = (v: number | null, digits = 3) => (v === null ? '–' : v.toFixed(digits));
const pad = (s: string, n: number) => s.padEnd(n);
const right = (s: string, n: number) => s.padStart(n);

function table(rows: string[][], alignLeft: readonly number[]): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => r[c]?.length ?? 0))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, c) => (alignLeft.includes(c) ? pad(cell, widths[c] ?? 0) : right(cell, widths[c] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

const boxes = (list: readonly { label: string; score: number }[]) =>
  list.map((b) => `${b.label} ${b.score.toFixed(2)}`).join(', ');

export function formatReport(r: EvaluationReport): string {
  const lines: string[] = [];
  const photos = `${r.evaluated} photo${r.evaluated === 1 ? '' : 's'}`;
  if (r.task === 'detection') {
    const conf = r.options.minConfidence === null ? "each model's default" : String(r.options.minConfidence);
    lines.push(
      `${r.candidate} (candidate) against ${r.reference} (reference), detection on ${photos}: boxes of the same class at IoU ≥ ${r.options.matchIoU}, minConfidence ${conf}`,
      '',
    );
    const rows = [
      ['photo', 'reference', 'candidate', 'matched', 'precision', 'recall', 'mean IoU', '|score drift|'],
    ];
    const notes = new Map<number, string[]>();
    for (const p of r.photos) {
      rows.push([
        p.name,
        String(p.referenceBoxes),
        String(p.candidateBoxes),
        String(p.matched),
        num(p.precision),
        num(p.recall),
        num(p.meanIoU),
        num(p.meanScoreDrift),
      ]);
      const n: string[] = [];
      if (p.missed.length > 0) n.push(`missed: ${boxes(p.missed)}`);
      if (p.extra.length > 0) n.push(`extra: ${boxes(p.extra)}`);
      if (n.length > 0) notes.set(rows.length - 1, n);
    }
    const o = r.overall;
    rows.push([
      'overall',
      String(o.referenceBoxes),
      String(o.candidateBoxes),
      String(o.matched),
      num(o.precision),
      num(o.recall),
      num(o.meanIoU),
      num(o.meanScoreDrift),
    ]);
    table(rows, [0]).forEach((line, i) => {
      lines.push(line);
      for (const n of notes.get(i) ?? []) lines.push(`    ${n}`);
    });
  } else {
    lines.push(
      `${r.candidate} (candidate) against ${r.reference} (reference), classification on ${photos}`,
      '',
    );
    const rows = [['photo', 'reference top-1', 'candidate top-1', 'top-1', 'top-5', '|p drift|']];
    const top = (c: { label: string; probability: number } | null) =>
      c === null ? '–' : `${c.label} ${c.probability.toFixed(3)}`;
    for (const p of r.photos) {
      rows.push([
        p.name,
        top(p.reference),
        top(p.candidate),
        p.top1Agrees ? 'yes' : 'no',
        p.top5Agrees ? 'yes' : 'no',
        num(p.probabilityDrift),
      ]);
    }
    const o = r.overall;
    rows.push([
      'overall',
      '',
      '',
      `${o.top1Agreements}/${o.photos}`,
      `${o.top5Agreements}/${o.photos}`,
      num(o.meanProbabilityDrift),
    ]);
    lines.push(...table(rows, [0, 1, 2]));
    lines.push('', `top-1 agreement ${num(o.top1)}, top-5 agreement ${num(o.top5)}`);
  }
  if (r.failures.length > 0) {
    lines.push('', `Left out (${r.failures.length}):`);
    for (const f of r.failures) lines.push(`  ${f.name}: ${f.error}`);
  }
  lines.push('', r.verdict.line);
  return `${lines.join('\n')}\n`;
}
