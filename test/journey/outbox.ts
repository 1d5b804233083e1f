import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The verification link mailed to `email`, from the development outbox of `dataDir`. */
export async function verificationLink(dataDir: string, email: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const text = await readFile(path.join(dataDir, 'outbox.jsonl'), 'utf8').catch(() => '');
    const mail = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { to: string; kind: string; text: string }).find((m) => m.to === email && m.kind === 'verify-email');
    if (mail) return /(http:\/\/\S+)/.exec(mail.text)![1]!;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no verification mail for ${email}`);
}
