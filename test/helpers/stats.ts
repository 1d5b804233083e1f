/** The median of `xs` (the upper one of the middle two for an even count); `xs` is not modified. */
export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
