import { z } from 'zod';
import { HttpErrors, appError } from '#shared/errors/index.js';

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

/** The `?cursor=` of a list request: absent → first page; unreadable → 400 INVALID_CURSOR. */
export function cursorParam(text: string | undefined): Cursor | undefined {
  if (text === undefined) return undefined;
  const cursor = decodeCursor(text);
  if (!cursor) throw appError(HttpErrors, 'INVALID_CURSOR');
  return cursor;
}
