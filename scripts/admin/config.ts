import { settings, settingNames } from '#shared/config/index.js';
import { generate } from '#shared/config/dev-secrets.js';
import type { Command } from './types.js';
import { adminConfig } from './context.js';

export const configCommands: Record<string, Command> = {
  'config:check': {
    summary: 'validate the configuration (prints names and sources, never secret values)',
    run: async (_args, write, io) => {
      const config = await adminConfig(io.env);
      write(`configuration valid (${config.env})`);
      write(`  issuer        ${config.authz.issuer}`);
      write(`  api audience  ${config.api.audience}`);
      write(`  database      ${config.db.client}`);
      write(`  cache         ${config.cache.backend}`);
      write(`  mail          ${config.mail.disabled ? 'off (MAIL_DISABLED=true: no verification or reset mails)' : config.mail.smtpUrl ? 'smtp' : `development outbox (${config.dataDir}/outbox.jsonl)`}`);
      if (config.provenance.fromSecretsManager.length) write(`  from Secrets Manager: ${config.provenance.fromSecretsManager.join(', ')}`);
      if (config.provenance.generated.length) write(`  generated for development: ${config.provenance.generated.join(', ')}`);
    },
  },
  'secrets:generate': {
    summary: 'print fresh AUTH_SECRET, COOKIE_KEYS and SIGNING_KEYS lines for a .env file or a secret',
    run: async (_args, write, io) => {
      for (const name of ['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS'] as const) {
        write(`${name}='${await generate(name)}'`);
      }
    },
  },
  'config:settings': {
    summary: 'list every setting with its default',
    run: async (_args, write, io) => {
      for (const name of settingNames) write(`${name.padEnd(30)} ${settings[name].default}`);
    },
  },
};
