import { z } from 'zod';

// Ids as the stores hold them; a client id may be a URL (client ID metadata document).
const id = z.string().min(1).max(2048);
/** Epoch milliseconds, on the publisher's clock. */
const at = z.number().int().nonnegative();

/**
 * Every change another replica must learn at once (docs/operations.md, "The change bus"). The
 * three with `at` are revocations: they also write the deny state (tokens of that grant, user or
 * client issued before `at` are dead) for as long as such a token can live.
 */
const ChangeSchema = z.discriminatedUnion('type', [
  // Role, ban, unban, profile, deletion: the principal a replica cached is stale.
  z.strictObject({ type: z.literal('user.changed'), userId: id }),
  // Sign-out everywhere, password reset, 2FA enrolment, ban: every grant of the user revoked.
  z.strictObject({ type: z.literal('user.sessions_revoked'), userId: id, at }),
  // RFC 7009, refresh or code reuse, logout, the end of one session.
  z.strictObject({ type: z.literal('grant.revoked'), grantId: id, at }),
  // RFC 7592 delete, the purge, clients:delete: its grants and its own tokens are dead.
  z.strictObject({ type: z.literal('client.deleted'), clientId: id, at }),
  // RFC 7591 registration or RFC 7592 update: the metadata an authz-server replica cached is stale.
  z.strictObject({ type: z.literal('client.changed'), clientId: id }),
  // A Stripe event granted or revoked an entitlement.
  z.strictObject({ type: z.literal('entitlements.changed'), userId: id }),
]);

export type Change = z.output<typeof ChangeSchema>;
export type ChangeType = Change['type'];
export type Revocation = Extract<Change, { at: number }>;
export type RevocationType = Revocation['type'];

export const REVOCATION_TYPES = ['grant.revoked', 'user.sessions_revoked', 'client.deleted'] as const satisfies readonly RevocationType[];

export const isRevocation = (c: Change): c is Revocation => 'at' in c;

/** The id a revocation is about: the member of its deny set. */
export function subjectOf(c: Revocation): string {
  if (c.type === 'grant.revoked') return c.grantId;
  if (c.type === 'user.sessions_revoked') return c.userId;
  return c.clientId;
}

/** A revocation rebuilt from its deny-set entry (member, score). */
export function revocationOf(type: RevocationType, subject: string, at: number): Revocation {
  if (type === 'grant.revoked') return { type, grantId: subject, at };
  if (type === 'user.sessions_revoked') return { type, userId: subject, at };
  return { type, clientId: subject, at };
}

/** A change read off the bus, or undefined when it is not one this version knows. */
export function parseChange(json: string | undefined): Change | undefined {
  if (json === undefined) return undefined;
  try {
    const parsed = ChangeSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Checks a change before it is published: a malformed one is a bug at the call site. */
export function checkChange(c: Change): Change {
  return ChangeSchema.parse(c);
}

/** Same change, same subject: concurrent publications of it may share one round trip. */
export function changeKey(c: Change): string {
  const { type, at: _at, ...subject } = c as Change & { at?: number };
  return `${type} ${JSON.stringify(subject)}`;
}
