import { expect } from 'chai';
import { API_SCOPES } from '#shared/oauth/scopes.js';
import { SCOPE_FOR, scopesFor, type ScopeMap } from '#api/auth/scopes.js';

describe('scope map (permission → API scope)', () => {
  it('is typed against the RBAC statement and API_SCOPES: a typo on either side does not compile', () => {
    // The proof is the typecheck (npm run typecheck): each line below must fail to compile.
    // @ts-expect-error 'listing:write' is no API scope (the scope is 'listings:write')
    const unknownScope: ScopeMap = { 'listing:create': 'listing:write' };
    // @ts-expect-error 'listings:read' is a scope, not a permission of the statement
    const unknownPermission: ScopeMap = { 'listings:read': 'listings:read' };
    expect([unknownScope, unknownPermission]).to.have.length(2);
  });

  it('grants only API scopes, and each of them through some permission', () => {
    const granted = Object.values(SCOPE_FOR).filter((s) => s !== null);
    for (const scope of granted) expect(API_SCOPES as readonly string[]).to.include(scope);
    expect([...new Set(granted)]).to.have.members([...API_SCOPES]);
    expect(scopesFor({ listing: ['read'], review: ['moderate'] })).to.deep.equal(['listings:read', null]);
  });
});
