/**
 * Revocation latency (#19): how long from an RFC 7009 revocation request at the authorization
 * server until every API replica refuses that grant's access token. One token at a time: mint
 * (refresh grant), check it is accepted at every replica, revoke its refresh token, then ask
 * every replica in a tight loop until each answers 401. Sequential and bounded (10 s per token).
 */
export interface RevocationResult {
  /** ms from sending the revocation to the last replica's first 401, one per token. */
  latencies: number[];
  /** ms the revocation request itself took (it announces the change before it answers). */
  revokeMs: number[];
  /** Tokens already refused by the first request each replica got after the revocation answered. */
  refusedAtOnce: number;
}

export interface RevocationCase {
  tokenUrl: string;
  revocationUrl: string;
  clientId: string;
  apis: string[];
  refreshTokens: string[];
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const BOUND_MS = 10_000;

async function post(url: string, body: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', headers: FORM, body: new URLSearchParams(body) });
}

async function status(api: string, token: string): Promise<number> {
  const res = await fetch(`${api}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

export async function revocationLatency(c: RevocationCase): Promise<RevocationResult> {
  const out: RevocationResult = { latencies: [], revokeMs: [], refusedAtOnce: 0 };
  for (const rt of c.refreshTokens) {
    const minted = await post(c.tokenUrl, { grant_type: 'refresh_token', refresh_token: rt, client_id: c.clientId });
    if (minted.status !== 200) throw new Error(`refresh grant answered ${minted.status}: ${await minted.text()}`);
    const { access_token: access, refresh_token: refresh } = (await minted.json()) as { access_token: string; refresh_token: string };
    for (const api of c.apis) if ((await status(api, access)) !== 200) throw new Error(`${api} refused a fresh token`);
    const t0 = performance.now();
    const revoked = await post(c.revocationUrl, { token: refresh, token_type_hint: 'refresh_token', client_id: c.clientId });
    if (revoked.status !== 200) throw new Error(`revocation answered ${revoked.status}: ${await revoked.text()}`);
    const answered = performance.now();
    out.revokeMs.push(answered - t0);
    let firstTry = true;
    const refusedAt = await Promise.all(
      c.apis.map(async (api) => {
        for (let tries = 0; ; tries++) {
          const s = await status(api, access);
          if (s === 401) {
            if (tries > 0) firstTry = false;
            return performance.now();
          }
          if (s !== 200) throw new Error(`${api} answered ${s}`);
          if (performance.now() - t0 > BOUND_MS) throw new Error(`${api} still accepts a token revoked ${BOUND_MS} ms ago`);
        }
      }),
    );
    if (firstTry) out.refusedAtOnce++;
    out.latencies.push(Math.max(...refusedAt) - t0);
  }
  return out;
}

/** The q-quantile (0..1) of `values`, nearest rank. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
