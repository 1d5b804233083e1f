import { expect } from 'chai';
import { passwordProblem } from '#shared/auth/password-policy.js';

describe('password policy', () => {
  const refused: [string, string, { email?: string }?][] = [
    ['short', 'must be at least 12 characters'],
    ['x'.repeat(129), 'must be at most 128 characters'],
    ['aaaaaaaaaaaaaa', 'must not be one repeated character'],
    ['123456789012', 'must not be a sequence of digits or keyboard letters'],
    ['abcdefghijklm', 'must not be a sequence of digits or keyboard letters'],
    ['QWERTYUIOPAS', 'must not be a sequence of digits or keyboard letters'],
    ['password1234', 'is too common'],
    ['Passw0rd!!!!', 'is too common'],
    ['qwerty123456', 'is too common'],
    ['ilovealice2024', 'must not contain your email address', { email: 'alice@example.com' }],
  ];
  for (const [pw, message, ctx] of refused) {
    it(`refuses "${pw.slice(0, 20)}": ${message}`, () => expect(passwordProblem(pw, ctx)).to.equal(message));
  }
  for (const pw of ['correct horse battery staple', 'a very long passphrase 42', 'Tr0ub4dor&3-extended']) {
    it(`accepts "${pw}"`, () => expect(passwordProblem(pw, { email: 'someone@example.com' })).to.equal(undefined));
  }
});
