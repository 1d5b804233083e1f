import { expect } from 'chai';
import { PASSWORD_MAX, PASSWORD_MIN, checkPassword, describeRefusal, passwordProblem, type PasswordContext } from '#shared/auth/password-policy.js';
import { PASSWORD } from '../../authz-server/oidc.flow.js';

const JANE: PasswordContext = { email: 'jane.doe@example.com', name: 'Jane Doe' };
const COMMON = 'Add more words that are less common.';
const PERSONAL = { warning: 'There should not be any personal or page related data.', suggestions: [COMMON] };
const BUILT_FROM = 'must not be built from your name, your email address or the service name';

describe('password policy', function () {
  this.timeout(10_000); // the first check loads and ranks the dictionaries

  describe('length (unchanged)', () => {
    it('keeps 12 and 128 as the bounds', () => expect([PASSWORD_MIN, PASSWORD_MAX]).to.deep.equal([12, 128]));
    it('refuses 11 characters', () => expect(checkPassword('vK7#qP2$wL9')).to.deep.equal({ message: 'must be at least 12 characters', warning: null, suggestions: [] }));
    it('accepts 12 strong characters', () => expect(checkPassword('vK7#qP2$wL9!')).to.equal(undefined));
    it('refuses 129 characters', () => expect(checkPassword('x'.repeat(129))).to.deep.equal({ message: 'must be at most 128 characters', warning: null, suggestions: [] }));
    it('accepts a 128-character passphrase', () => expect(checkPassword('correct horse battery staple '.repeat(5).slice(0, 128))).to.equal(undefined));
  });

  describe('common and expected values (zxcvbn, score below 3)', () => {
    const refused: [string, string, string[]][] = [
      ['password123456', 'This is similar to a commonly used password.', [COMMON]],
      ['qwerty123456', 'This is a commonly used password.', [COMMON]],
      ['123456789012', 'This is a commonly used password.', [COMMON]],
      ['Passw0rd!!!!', 'This is similar to a commonly used password.', [COMMON, 'Capitalize more than the first letter.', "Avoid predictable letter substitutions like '@' for 'a'."]],
      ['aaaaaaaaaaaaaa', 'Repeated characters like "aaa" are easy to guess.', [COMMON, 'Avoid repeated words and characters.']],
      ['abcdefghijklm', 'Common character sequences like "abc" are easy to guess.', [COMMON, 'Avoid common character sequences.']],
      ['QWERTYUIOPAS', 'This is similar to a commonly used password.', [COMMON, 'Capitalize some, but not all letters.']],
    ];
    for (const [pw, warning, suggestions] of refused) {
      it(`refuses "${pw}": ${warning}`, () => expect(checkPassword(pw, JANE)).to.deep.equal({ message: 'is too easy to guess', warning, suggestions }));
    }
  });

  describe('context words: the user\'s address and name, the service', () => {
    it('refuses the email local part with a year when the address is the context, accepts it for someone else', () => {
      expect(checkPassword('xqmorblat!2024', { email: 'xqmorblat@example.com' })).to.deep.equal({ message: 'is too easy to guess', ...PERSONAL });
      expect(checkPassword('xqmorblat!2024', { email: 'someone@example.com' })).to.equal(undefined);
    });
    it('refuses the user\'s name run together, accepts it for someone else', () => {
      expect(checkPassword('McGillicuddyZephyrinus', { email: 'zm@example.com', name: 'Zephyrinus McGillicuddy' })).to.deep.equal({ message: 'is too easy to guess', ...PERSONAL });
      expect(checkPassword('McGillicuddyZephyrinus', { email: 'zm@example.com' })).to.equal(undefined);
    });
    it('refuses the local part twice around a year (zxcvbn alone scores it 3)', () => {
      expect(checkPassword('janedoe2024janedoe', JANE)).to.deep.equal({ message: BUILT_FROM, ...PERSONAL });
      expect(checkPassword('janedoe2024janedoe', { email: 'someone@example.com' })).to.equal(undefined);
    });
    it('refuses a common phrase around the local part', () => expect(checkPassword('ilovealice2024', { email: 'alice@example.com' })).to.deep.equal({ message: BUILT_FROM, ...PERSONAL }));
    it('refuses the service\'s name with a year or with the other service word', () => {
      expect(checkPassword('portcullis2024!!')).to.deep.equal({ message: BUILT_FROM, ...PERSONAL });
      expect(checkPassword('Portcullis!Marketplace')).to.deep.equal({ message: BUILT_FROM, ...PERSONAL });
    });
    it('accepts a strong passphrase that mentions the user or the service', () => {
      expect(checkPassword('Jane Doe loves purple elephants in kitchens', JANE)).to.equal(undefined);
      expect(checkPassword('my marketplace has nice agents', JANE)).to.equal(undefined);
    });
  });

  describe('passphrases', () => {
    for (const pw of [PASSWORD, 'purple elephant kitchen umbrella', 'a very long passphrase 42', 'another long passphrase', 'a brand new passphrase', 'an entirely new passphrase']) {
      it(`accepts "${pw}"`, () => expect(checkPassword(pw, JANE)).to.equal(undefined));
    }
  });

  describe('answers for callers', () => {
    it('passwordProblem gives the message alone, as before', () => {
      expect(passwordProblem('short')).to.equal('must be at least 12 characters');
      expect(passwordProblem('password123456', { email: 'someone@example.com' })).to.equal('is too easy to guess');
      expect(passwordProblem(PASSWORD, { email: 'someone@example.com' })).to.equal(undefined);
    });
    it('describeRefusal reads as one line', () => {
      expect(describeRefusal(checkPassword('password123456')!)).to.equal('The password is too easy to guess. This is similar to a commonly used password. Add more words that are less common.');
      expect(describeRefusal(checkPassword('short')!)).to.equal('The password must be at least 12 characters.');
    });
  });
});
