import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createMailer, OUTBOX_FILE } from '#shared/mail/mailer.js';
import { testConfig } from '../../helpers/config.js';
import { captureLogger } from '../../helpers/log-capture.js';

describe('mailer transports', () => {
  const mail = { to: 'someone@example.com', subject: 'Confirm', text: 'https://login.example/verify?token=SECRET', kind: 'verify-email' };

  it('MAIL_DISABLED=true drops mail: no outbox file, one warning naming only the kind', async () => {
    const t = await testConfig({ MAIL_DISABLED: 'true' });
    try {
      const log = captureLogger();
      const mailer = createMailer(t.config, log.logger);
      expect(mailer.transport).to.equal('off');
      await mailer.send(mail);
      expect(existsSync(path.join(t.dataDir, OUTBOX_FILE))).to.equal(false);
      expect(log.lines().map((l) => [l.level, l.msg, l.kind])).to.deep.equal([['warn', 'mail not sent: MAIL_DISABLED=true', 'verify-email']]);
      expect(log.text()).not.to.contain('SECRET');
      expect(log.text()).not.to.contain('someone@example.com');
    } finally {
      await t.cleanup();
    }
  });

  it('without SMTP_URL in development, writes the outbox', async () => {
    const t = await testConfig();
    try {
      const mailer = createMailer(t.config, captureLogger().logger);
      expect(mailer.transport).to.equal('outbox');
      await mailer.send(mail);
      expect(existsSync(path.join(t.dataDir, OUTBOX_FILE))).to.equal(true);
    } finally {
      await t.cleanup();
    }
  });
});
