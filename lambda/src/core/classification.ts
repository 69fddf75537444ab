/** Numerically stable softmax: subtracting the max keeps exp() from overflowing on large logits. */
export function softmax(logits: ArrayLike<number>): Float32Array {
  const n = logits.length;
  const out = new Float32Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i] as number);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp((logits[i] as number) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) out[i] = (out[i] as number) / sum;
  return out;
}

export interface Ranked {
  index: number;
  score: number;
}

/** The k highest scores, best first; ties keep the lower index first. */
export function topK(scores: ArrayLike<number>, k: number): Ranked[] {
  const best: Ranked[] = [];
  if (k <= 0) return best;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (best.length === k && s <= (best[k - 1] as Ranked).score) continue;
    let j = best.length;
    while (j > 0 && (best[j - 1] as Ranked).score < s) j--;
    best.splice(j, 0, { index: i, score: s });
    if (best.length > k) best.pop();
  }
  return best;
}
