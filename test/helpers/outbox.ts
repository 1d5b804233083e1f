import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** One message of the development outbox (`DATA_DIR/outbox.jsonl`, one JSON object a line). */
export interface OutboxMail {
  to: string;
  subject: string;
  text: string;
  kind: string;
}

/** Every message written to the development outbox of `dataDir` so far. */
export async function outbox(dataDir: string): Promise<OutboxMail[]> {
  const text = await readFile(path.join(dataDir, 'outbox.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as OutboxMail);
}

/** Mail leaves off the request path: waits (≤ 5 s) for the latest `kind` message to `to`. */
export async function mailFor(dataDir: string, to: string, kind: string): Promise<OutboxMail> {
  for (let i = 0; i < 100; i++) {
    const found = (await outbox(dataDir)).filter((m) => m.to === to && m.kind === kind).at(-1);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${kind} mail for ${to}`);
}

/** The first http link in a message's text (verification, password reset). */
export function linkIn(mail: OutboxMail): string {
  const m = /(http:\/\/\S+)/.exec(mail.text);
  if (!m) throw new Error(`no link in the ${mail.kind} mail for ${mail.to}:\n${mail.text}`);
  return m[1]!;
}

/** The link of the latest `kind` message to `to` (e.g. 'verify-email', 'reset-password'). */
export async function mailLink(dataDir: string, to: string, kind: string): Promise<string> {
  return linkIn(await mailFor(dataDir, to, kind));
}
