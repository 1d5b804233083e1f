import { expect } from 'chai';
import { HttpBrowser } from '../helpers/http-browser.js';
import { mailLink } from '../helpers/outbox.js';
import { PASSWORD, describeEachBackend, type Stack } from './stack.js';

/**
 * Threat: credential stuffing and guessing succeed against passwords from breach lists or
 * built from what an attacker knows about the account (NIST SP 800-63B §3.1.1.2: refuse
 * commonly used, expected or compromised values and context-specific words). Wherever a person
 * sets a password — the sign-up page and the reset page — a weak one is refused with 400,
 * zxcvbn's advice is shown beside the field (referenced by its aria-describedby), and nothing
 * is stored.
 */
const ERROR = /<p class="error" role="alert" id="form-error">([^<]*)<\/p>/;
const HELP = /<p id="password-help" class="error">([^<]*)<\/p>/;
const PASSWORD_INPUT = 'aria-invalid="true" aria-describedby="password-help">';
const COMMON = 'The password is too easy to guess. This is similar to a commonly used password. Add more words that are less common.';
const PERSONAL = 'The password must not be built from your name, your email address or the service name. There should not be any personal or page related data. Add more words that are less common.';

describeEachBackend('security: weak passwords are refused where a password is set', (stack) => {
  let s: Stack;
  before(() => {
    s = stack();
  });

  /** Loads the page at `path` (so the browser holds what its form needs), then posts the form. */
  async function post(path: string, form: Record<string, string>, browser = new HttpBrowser()) {
    await browser.request(`${s.issuer}${path}`);
    return browser.request(`${s.issuer}${path.split('?')[0]}`, { form });
  }

  it('sign-up page: a common password gets 400 and zxcvbn\'s advice beside the field, keeps name and email, stores no account; a passphrase then goes through', async () => {
    const users = await s.count('user');
    const browser = new HttpBrowser();
    const page = await post('/account/sign-up', { name: 'Walter Weak', email: 'weak-walter@example.com', password: 'password123456' }, browser);
    expect(page.status).to.equal(400);
    expect(ERROR.exec(page.text)?.[1]).to.equal('The password is too easy to guess.');
    expect(HELP.exec(page.text)?.[1]).to.equal(COMMON);
    expect(page.text).to.contain(`<input id="password" name="password" type="password" autocomplete="new-password" required value="" ${PASSWORD_INPUT}`);
    expect(page.text).to.contain('value="Walter Weak"').and.to.contain('value="weak-walter@example.com"');
    expect(await s.count('user')).to.equal(users);
    const accepted = await browser.request(`${s.issuer}/account/sign-up`, { form: { name: 'Walter Weak', email: 'weak-walter@example.com', password: PASSWORD } });
    expect(accepted.status).to.equal(202);
    expect(await s.count('user', { email: 'weak-walter@example.com' })).to.equal(1);
  });

  it('sign-up page: a password made of the applicant\'s own address gets 400 with the personal-data advice, stores no account', async () => {
    const users = await s.count('user');
    const page = await post('/account/sign-up', { name: 'Jane Weak', email: 'weak.jane@example.com', password: 'weakjane2024weakjane' });
    expect(page.status).to.equal(400);
    expect(ERROR.exec(page.text)?.[1]).to.equal('The password must not be built from your name, your email address or the service name.');
    expect(HELP.exec(page.text)?.[1]).to.equal(PERSONAL);
    expect(await s.count('user')).to.equal(users);
    expect(await s.count('user', { email: 'weak.jane@example.com' })).to.equal(0);
  });

  it('reset page: a weak new password — common, or the account\'s own name — gets 400 with the advice beside the field; the password stays, the link still works', async () => {
    const email = 'reta.quill@example.com';
    const userId = await s.env.createUser({ email, password: PASSWORD, name: 'Reta Quill' });
    const hash = async () => (await s.db('account').where({ userId, providerId: 'credential' }).first()).password as string;
    const before = await hash();
    const browser = new HttpBrowser();
    expect((await post('/account/forgot-password', { email }, browser)).status).to.equal(202);
    const form = await browser.get(await mailLink(s.env.env.DATA_DIR!, email, 'reset-password'), new URL(s.issuer).origin);
    const token = /name="token" value="([^"]+)"/.exec(form.text)?.[1];
    expect(token, form.text.slice(0, 300)).to.be.a('string');
    const reset = (password: string) => browser.request(`${s.issuer}/account/reset-password`, { form: { token: token!, password } });

    for (const [password, help] of [['password123456', COMMON], ['Quill!Reta!2024', PERSONAL]] as const) {
      const page = await reset(password);
      expect(page.status, password).to.equal(400);
      expect(ERROR.exec(page.text)?.[1], password).to.equal(help.slice(0, help.indexOf('.') + 1));
      expect(HELP.exec(page.text)?.[1], password).to.equal(help);
      expect(page.text).to.contain(`<input id="password" name="password" type="password" autocomplete="new-password" required value="" ${PASSWORD_INPUT}`);
      expect(page.text).to.contain(`name="token" value="${token}"`);
    }
    expect(await hash()).to.equal(before);
    const done = await reset('a fresh and sturdy passphrase');
    expect(done.status).to.equal(200);
    expect(done.text).to.contain('Password changed');
    expect(await hash()).not.to.equal(before);
  });

  it('reset page: an unknown link is refused before the password is looked at', async () => {
    const page = await post('/account/reset-password?token=not-a-reset-token', { token: 'not-a-reset-token', password: 'password123456' });
    expect(page.status).to.equal(400);
    expect(page.text).to.contain('This reset link is invalid, expired or already used. Ask for a new one.');
    expect(page.text).not.to.contain('password-help');
  });
});
