import { expect } from 'chai';
import type { BusEvent, BusHandler } from '#shared/bus/index.js';
import { createRevocations } from '#api/auth/revocations.js';
import type { AccessTokenClaims } from '#api/auth/access-token.js';

/**
 * The API's deny state (resource-api/auth/revocations.ts) as the bus feeds it: what it decides
 * from memory, and when it hands the decision to the database instead.
 */
describe('revocation verdicts from the change bus', () => {
  const T = 1_800_000_000_000; // a revocation time (ms)
  const WINDOW = 660_000;
  let now = T;
  let handler: BusHandler;
  const emit = (e: BusEvent) => handler(e);
  const fresh = () => {
    now = T;
    return createRevocations({ subscribe: (h) => ((handler = h), () => undefined) }, { windowMs: WINDOW, now: () => now });
  };
  /** A user's token issued `offsetS` seconds from T, from grant `grant`. */
  const token = (offsetS: number, o: { sub?: string; client?: string; grant?: string } = {}): AccessTokenClaims => ({
    iss: 'i', aud: 'a', sub: o.sub ?? 'u1', client_id: o.client ?? 'agent', iat: Math.floor(T / 1000) + offsetS, exp: Math.floor(T / 1000) + offsetS + 600,
    ...(o.grant ? { grant_id: o.grant } : {}),
  });
  const joined = (since = T - 3600_000) => emit({ kind: 'reset', deny: { since, revocations: [] } });

  it('not following the bus: every token goes to the database', () => {
    const r = fresh();
    joined();
    expect(r.verdict(token(100), false)).to.equal('ask-database');
  });

  it('before the first reset nothing is known: the database decides', () => {
    expect(fresh().verdict(token(100), true)).to.equal('ask-database');
  });

  it('a revoked grant: its tokens are refused, other grants\' are not', () => {
    const r = fresh();
    joined();
    emit({ kind: 'change', change: { type: 'grant.revoked', grantId: 'g1', at: T } });
    expect(r.verdict(token(100, { grant: 'g1' }), true)).to.equal('revoked');
    expect(r.verdict(token(100, { grant: 'g2' }), true)).to.equal('valid');
  });

  it('a user\'s tokens issued before T: refused; well after: valid; around T (clocks, whole seconds): the database decides', () => {
    const r = fresh();
    joined();
    emit({ kind: 'change', change: { type: 'user.sessions_revoked', userId: 'u1', at: T } });
    expect(r.verdict(token(-7), true)).to.equal('revoked');
    expect(r.verdict(token(-3), true)).to.equal('ask-database');
    expect(r.verdict(token(3), true)).to.equal('ask-database');
    expect(r.verdict(token(7), true)).to.equal('valid');
    expect(r.verdict(token(-7, { sub: 'u2' }), true)).to.equal('valid');
  });

  it('a deleted client: its tokens issued before T are refused, its own (client_credentials) too', () => {
    const r = fresh();
    joined();
    emit({ kind: 'change', change: { type: 'client.deleted', clientId: 'agent', at: T } });
    expect(r.verdict(token(-60), true)).to.equal('revoked');
    expect(r.verdict(token(-60, { sub: 'agent' }), true)).to.equal('revoked');
    expect(r.verdict(token(-60, { client: 'other' }), true)).to.equal('valid');
  });

  it('a token issued before Redis held every revocation (`since`): the database decides', () => {
    const r = fresh();
    joined(T);
    expect(r.verdict(token(-60), true)).to.equal('ask-database');
    expect(r.verdict(token(60), true)).to.equal('valid');
  });

  it('a reset merges what Redis holds with what this replica knew (Redis may have lost it)', () => {
    const r = fresh();
    joined();
    emit({ kind: 'change', change: { type: 'grant.revoked', grantId: 'g1', at: T } });
    emit({ kind: 'reset', deny: { since: T - 3600_000, revocations: [{ type: 'grant.revoked', grantId: 'g2', at: T }] } });
    expect(r.verdict(token(100, { grant: 'g1' }), true)).to.equal('revoked');
    expect(r.verdict(token(100, { grant: 'g2' }), true)).to.equal('revoked');
  });

  it('forgets a revocation once every token it refuses has expired (the window)', () => {
    const r = fresh();
    joined();
    emit({ kind: 'change', change: { type: 'grant.revoked', grantId: 'g1', at: T } });
    now = T + WINDOW + 120_000;
    emit({ kind: 'change', change: { type: 'user.changed', userId: 'x' } }); // any event sweeps, at most once a minute
    expect(r.verdict(token(100, { grant: 'g1' }), true)).to.equal('valid');
  });
});
