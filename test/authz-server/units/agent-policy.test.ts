import { expect } from 'chai';
import { AGENT_GRANT_TYPES, agentPolicyProblem, agentPolicyViolation, isRedirectField } from '#authz/clients/agent-policy.js';
import { DEFAULT_AGENT_SCOPES } from '#shared/oauth/scopes.js';

const scopes = DEFAULT_AGENT_SCOPES;
const registered = { kind: 'registered', scopes } as const;
const doc = (clientIdUrl = 'https://agent.example/client.json') => ({ kind: 'metadata-document', scopes, clientIdUrl }) as const;

/** A registration that passes; each case changes one field. */
const ok = {
  client_name: 'My agent',
  token_endpoint_auth_method: 'none',
  redirect_uris: ['http://127.0.0.1:8765/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid offline_access listings:read',
};
const without = (key: keyof typeof ok) => Object.fromEntries(Object.entries(ok).filter(([k]) => k !== key));

describe('agent client policy (clients/agent-policy.ts)', () => {
  describe('a registered (RFC 7591) client', () => {
    it('passes a public client with loopback, https and private-use redirects and agent scopes', () => {
      expect(agentPolicyProblem(ok, registered)).to.equal(undefined);
      expect(agentPolicyProblem({ ...ok, redirect_uris: ['https://agent.example/cb', 'com.example.agent:/cb', 'http://[::1]/cb', 'http://localhost:3000/cb'] }, registered)).to.equal(undefined);
      // Absent grant types, response types and scope: RFC 7591 / registration defaults apply.
      expect(agentPolicyProblem(without('scope'), registered)).to.equal(undefined);
      expect(agentPolicyProblem(without('grant_types'), registered)).to.equal(undefined);
      expect(agentPolicyProblem(without('response_types'), registered)).to.equal(undefined);
    });

    it('refuses every confidential method, and an absent one (RFC 7591 default client_secret_basic)', () => {
      for (const method of ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt']) {
        expect(agentPolicyViolation({ ...ok, token_endpoint_auth_method: method }, registered)).to.deep.equal({
          field: 'token_endpoint_auth_method',
          message: `token_endpoint_auth_method "${method}" is not allowed: register a public client with token_endpoint_auth_method "none"`,
        });
      }
      expect(agentPolicyProblem(without('token_endpoint_auth_method'), registered)).to.equal(
        'token_endpoint_auth_method is missing (RFC 7591 defaults it to "client_secret_basic"): register a public client with token_endpoint_auth_method "none"',
      );
    });

    it('refuses a client_secret, even next to "none" and even empty', () => {
      for (const secret of ['s3cret', '']) {
        expect(agentPolicyViolation({ ...ok, client_secret: secret }, registered)?.field).to.equal('client_secret');
      }
      expect(agentPolicyProblem({ ...ok, client_secret: 'x' }, registered)).to.match(/^client_secret must not be sent/);
    });

    it('refuses keys and URLs the server would fetch', () => {
      expect(agentPolicyViolation({ ...ok, jwks_uri: 'https://agent.example/jwks' }, registered)?.field).to.equal('jwks_uri');
      expect(agentPolicyViolation({ ...ok, jwks: { keys: [] } }, registered)?.field).to.equal('jwks');
      expect(agentPolicyViolation({ ...ok, sector_identifier_uri: 'https://agent.example/s.json' }, registered)?.field).to.equal('sector_identifier_uri');
    });

    it('requires redirect URIs of the allowed kinds (the clients/schema.ts rule)', () => {
      expect(agentPolicyProblem(without('redirect_uris'), registered)).to.equal('redirect_uris must hold at least one redirect URI');
      expect(agentPolicyProblem({ ...ok, redirect_uris: [] }, registered)).to.equal('redirect_uris must hold at least one redirect URI');
      expect(agentPolicyProblem({ ...ok, redirect_uris: 'https://a.example/cb' }, registered)).to.equal('redirect_uris must hold at least one redirect URI');
      expect(agentPolicyProblem({ ...ok, redirect_uris: ['http://agent.example/cb'] }, registered)).to.equal(
        'redirect_uris: http://agent.example/cb: use https, a loopback http URI or a private-use scheme',
      );
      expect(agentPolicyProblem({ ...ok, redirect_uris: ['https://a.example/cb#x'] }, registered)).to.match(/must not contain a fragment/);
      expect(agentPolicyProblem({ ...ok, redirect_uris: ['myapp:/cb'] }, registered)).to.match(/private-use scheme/);
      expect(agentPolicyProblem({ ...ok, redirect_uris: [42] }, registered)).to.match(/^redirect_uris: /);
      expect(agentPolicyViolation({ ...ok, post_logout_redirect_uris: ['http://agent.example/'] }, registered)?.field).to.equal('post_logout_redirect_uris');
      expect(isRedirectField('redirect_uris') && isRedirectField('post_logout_redirect_uris') && !isRedirectField('scope')).to.equal(true);
    });

    it('refuses http redirects for an explicit web client (the loopback is for native apps)', () => {
      expect(agentPolicyProblem({ ...ok, application_type: 'web' }, registered)).to.equal(
        'redirect_uris: http://127.0.0.1:8765/callback: web clients must use https (http only for the loopback redirect of a native client)',
      );
      expect(agentPolicyProblem({ ...ok, application_type: 'native' }, registered)).to.equal(undefined);
    });

    it('allows only the authorization code, refresh token and device code (RFC 8628) grants, and the code response type', () => {
      expect(AGENT_GRANT_TYPES).to.deep.equal(['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code']);
      expect(agentPolicyProblem({ ...ok, grant_types: ['authorization_code', 'implicit'] }, registered)).to.equal(
        'grant_types "implicit" not allowed (allowed: authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code)',
      );
      expect(agentPolicyViolation({ ...ok, grant_types: ['client_credentials'] }, registered)?.field).to.equal('grant_types');
      expect(agentPolicyViolation({ ...ok, grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'] }, registered)).to.equal(undefined);
      expect(agentPolicyViolation({ ...ok, grant_types: 'authorization_code' }, registered)?.message).to.equal('grant_types must be an array');
      expect(agentPolicyProblem({ ...ok, response_types: ['code id_token'] }, registered)).to.equal('response_types "code id_token" not allowed (allowed: code)');
      expect(agentPolicyViolation({ ...ok, response_types: ['token'] }, registered)?.field).to.equal('response_types');
    });

    it('names the scopes outside the agent set', () => {
      expect(agentPolicyProblem({ ...ok, scope: 'openid listings:write' }, registered)).to.equal(
        `scope listings:write is not available to self-registered clients (allowed: ${scopes.join(' ')})`,
      );
      expect(agentPolicyProblem({ ...ok, scope: 'listings:write admin openid' }, registered)).to.match(/^scope listings:write admin are not available/);
      expect(agentPolicyProblem({ ...ok, scope: 'openid' }, { kind: 'registered', scopes: ['email'] })).to.match(/^scope openid is not available/);
      expect(agentPolicyViolation({ ...ok, scope: ['openid'] }, registered)?.field).to.equal('scope');
    });

    it('requires a client name of 1–100 characters without control characters', () => {
      expect(agentPolicyProblem(without('client_name'), registered)).to.equal('client_name is required');
      expect(agentPolicyProblem({ ...ok, client_name: '   ' }, registered)).to.equal('client_name is required');
      expect(agentPolicyProblem({ ...ok, client_name: 7 }, registered)).to.equal('client_name is required');
      expect(agentPolicyProblem({ ...ok, client_name: 'x'.repeat(100) }, registered)).to.equal(undefined);
      expect(agentPolicyProblem({ ...ok, client_name: 'x'.repeat(101) }, registered)).to.equal('client_name must be at most 100 characters');
      expect(agentPolicyProblem({ ...ok, client_name: 'a\nb' }, registered)).to.equal('client_name must not contain control characters');
    });
  });

  describe('a client ID metadata document', () => {
    it('may be public, without a name', () => {
      expect(agentPolicyProblem(without('client_name'), doc())).to.equal(undefined);
    });

    it('may use private_key_jwt with a jwks_uri on the client_id origin only', () => {
      const pkj = { ...ok, token_endpoint_auth_method: 'private_key_jwt' };
      expect(agentPolicyProblem({ ...pkj, jwks_uri: 'https://agent.example/jwks.json' }, doc())).to.equal(undefined);
      expect(agentPolicyProblem({ ...pkj, jwks_uri: 'https://evil.example/jwks.json' }, doc())).to.equal('jwks_uri https://evil.example/jwks.json must be on the origin of the client_id');
      expect(agentPolicyProblem({ ...pkj, jwks_uri: 'https://agent.example:8443/jwks.json' }, doc())).to.match(/must be on the origin/);
      expect(agentPolicyProblem(pkj, doc())).to.equal('private_key_jwt needs a jwks_uri');
      expect(agentPolicyProblem({ ...pkj, jwks_uri: 'https://agent.example/jwks.json' }, { kind: 'metadata-document', scopes })).to.match(/must be on the origin/);
      expect(agentPolicyViolation({ ...pkj, jwks: { keys: [] } }, doc())?.field).to.equal('jwks');
    });

    it('refuses shared-secret methods and the default one', () => {
      expect(agentPolicyProblem({ ...ok, token_endpoint_auth_method: 'client_secret_post' }, doc())).to.equal('token_endpoint_auth_method "client_secret_post" is not allowed: use "none" or "private_key_jwt"');
      expect(agentPolicyProblem(without('token_endpoint_auth_method'), doc())).to.equal('token_endpoint_auth_method "client_secret_basic" is not allowed: use "none" or "private_key_jwt"');
    });

    it('applies the same redirect, grant, response type and scope rules', () => {
      expect(agentPolicyViolation({ ...ok, redirect_uris: ['http://agent.example/cb'] }, doc())?.field).to.equal('redirect_uris');
      expect(agentPolicyViolation({ ...ok, grant_types: ['client_credentials'] }, doc())?.field).to.equal('grant_types');
      expect(agentPolicyViolation({ ...ok, response_types: ['id_token'] }, doc())?.field).to.equal('response_types');
      expect(agentPolicyViolation({ ...ok, scope: 'listings:write' }, doc())?.field).to.equal('scope');
      expect(agentPolicyViolation({ ...ok, client_secret: 'x' }, doc())?.field).to.equal('client_secret');
    });
  });
});
