import { z } from 'zod';

/** Opaque keyset cursors: base64url JSON of the last row's sort key and id. */
const shape = z.object({ t: z.number().int(), id: z.string().max(64) }).strict();
export type Cursor = z.infer<typeof shape>;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor(text: string): Cursor | undefined {
  try {
    const r = shape.safeParse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
