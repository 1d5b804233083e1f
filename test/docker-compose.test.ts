import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { settingNames } from '#shared/config/index.js';
import { ROOT } from './helpers/process.js';
import { ENTRY_POINTS } from '../scripts/build.js';

interface ComposeService {
  build?: unknown;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

/** There is no Docker engine here: these checks keep the compose file honest by reading it. */
describe('docker-compose.yml', () => {
  let services: Record<string, ComposeService>;
  before(async () => {
    const doc = parse(await readFile(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
    services = doc.services;
  });
  const ours = ['migrate', 'authz-server', 'resource-api'];

  it('runs postgres, redis, a migration step and both services', () => {
    expect(Object.keys(services).sort()).to.deep.equal(['authz-server', 'migrate', 'postgres', 'redis', 'resource-api']);
  });

  it('gives our services only environment keys the config schema knows', () => {
    for (const name of ours) {
      const keys = Object.keys(services[name]!.environment ?? {});
      expect(keys.length, name).to.be.greaterThan(5);
      const unknown = keys.filter((k) => !(settingNames as string[]).includes(k));
      expect(unknown, `${name} has env keys missing from the schema`).to.deep.equal([]);
    }
  });

  it('requires the production secrets instead of shipping defaults', () => {
    const env = services['authz-server']!.environment!;
    expect(env.NODE_ENV).to.equal('production');
    for (const key of ['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS']) expect(env[key], key).to.match(/^\$\{[A-Z_]+:\?/);
  });

  it('runs compiled entry points that exist in the build', async () => {
    for (const name of ours) {
      const cmd = services[name]!.command!;
      expect(cmd[0]).to.equal('node');
      const src = cmd[1]!.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      await readFile(path.join(ROOT, src)); // throws when the source is missing
      expect(ENTRY_POINTS, name).to.include(src); // scripts/build.ts bundles it to that path
    }
  });

  it('builds the image with `npm run build` and starts the authz-server bundle by default', async () => {
    const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).to.match(/^RUN npm run build && npm prune --omit=dev$/m);
    expect(dockerfile).to.contain('CMD ["node", "dist/authz-server/main.js"]');
    // Every file the build reads is in the build stage.
    for (const copied of ['scripts', 'shared', 'authz-server', 'resource-api', 'tsconfig.json']) expect(dockerfile, copied).to.match(new RegExp(`^COPY .*\\b${copied}\\b`, 'm'));
  });

  it('orders start-up: services wait for a successful migration and healthy backends', () => {
    expect(services.migrate!.depends_on).to.deep.equal({ postgres: { condition: 'service_healthy' } });
    for (const name of ['authz-server', 'resource-api']) {
      expect(services[name]!.depends_on!.migrate).to.deep.equal({ condition: 'service_completed_successfully' });
      expect(services[name]!.depends_on!.redis).to.deep.equal({ condition: 'service_healthy' });
      expect(services[name]!.healthcheck!.test.join(' ')).to.contain('/readyz');
    }
  });

  it('binds services on all interfaces inside the container, on the ports the issuer and audience use', () => {
    const env = services['resource-api']!.environment!;
    expect(env.HOST).to.equal('0.0.0.0');
    expect(env.ISSUER_URL).to.contain(':4000');
    expect(env.API_AUDIENCE).to.contain(':4001');
  });
});
