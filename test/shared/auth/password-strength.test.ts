import { expect } from 'chai';
import { MIN_SCORE, contextWords, estimate, withoutWords } from '#shared/auth/password-strength.js';

describe('password strength: context words and the estimator', function () {
  this.timeout(10_000); // the first estimate loads and ranks the dictionaries

  it('requires score 3', () => expect(MIN_SCORE).to.equal(3));

  it('takes the whole address, its local part with and without a +tag, the part\'s pieces and letters, each name word and the service words', () => {
    expect(contextWords({ email: 'Jane.Doe+shop@Example.com', name: 'Jane  van Doe' })).to.deep.equal([
      'jane.doe+shop@example.com', 'jane.doe+shop', 'jane.doe', 'jane', 'doe', 'shop', 'janedoe', 'van', 'portcullis', 'marketplace',
    ]);
    expect(contextWords({ email: 'a_b-c@example.com' })).to.deep.equal(['a_b-c@example.com', 'a_b-c', 'a', 'b', 'c', 'abc', 'portcullis', 'marketplace']);
    expect(contextWords({})).to.deep.equal(['portcullis', 'marketplace']);
  });

  it('takes out context words of four or more characters, longest first, ignoring case', () => {
    const words = contextWords({ email: 'jane.doe@example.com', name: 'Jane Doe' });
    expect(withoutWords('JaneDoe2024janedoe', words)).to.equal('2024');
    expect(withoutWords('doe-a-deer', words)).to.equal('doe-a-deer');
    expect(withoutWords('Portcullis!Marketplace', words)).to.equal('!');
  });

  it('gives zxcvbn\'s English feedback, and counts a context word as one guess', () => {
    expect(estimate('password123456', [])).to.deep.equal({ score: 1, warning: 'This is similar to a commonly used password.', suggestions: ['Add more words that are less common.'] });
    expect(estimate('xqmorblat!2024', []).score).to.equal(4);
    expect(estimate('xqmorblat!2024', ['xqmorblat']).score).to.equal(2);
  });
});
