/** The median of `xs` (the upper one of the middle two for an even count); `xs` is not modified. */
export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * The median duration of `probe(a, i)` and of `probe(b, i)` over `samples` rounds each, after one
 * warm-up call of both. The two are sampled alternately (a b, b a, a b, …) so that whatever else
 * the machine does at that moment — a neighbouring test file, a GC, a CPU frequency change —
 * lands on both sides alike instead of on one median.
 */
export async function interleavedMedians(samples: number, probe: (who: string, i: number) => Promise<void>, a: string, b: string): Promise<[number, number]> {
  const ta: number[] = [];
  const tb: number[] = [];
  const time = async (who: string, i: number, into: number[]) => {
    const t0 = process.hrtime.bigint();
    await probe(who, i);
    into.push(Number(process.hrtime.bigint() - t0) / 1e6);
  };
  await probe(a, -1);
  await probe(b, -1);
  for (let i = 0; i < samples; i++) {
    const order: [string, number[]][] = i % 2 ? [[a, ta], [b, tb]] : [[b, tb], [a, ta]];
    for (const [who, into] of order) await time(who, i, into);
  }
  return [median(ta), median(tb)];
}
