import { expect } from 'chai';
import { Writable } from 'node:stream';
import { createLogger, prettyLogs } from '#shared/logging/logger.js';

function capture() {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { chunks.push(chunk.toString()); done(); } });
  return { stream, text: () => chunks.join('') };
}

describe('logger formats', () => {
  it('writes JSON lines by default, with credentials redacted', () => {
    const out = capture();
    const log = createLogger({ level: 'info', service: 'svc', destination: out.stream as never });
    log.info({ user: { token: 'tok-123' } }, 'hello');
    log.flush();
    const line = JSON.parse(out.text().trim().split('\n')[0]!);
    expect(line).to.include({ level: 'info', service: 'svc', msg: 'hello' });
    expect(line.user.token).to.equal('[redacted]');
  });

  it('writes readable lines with pretty: level, service, message — redaction still applied', () => {
    const out = capture();
    const log = createLogger({ level: 'info', service: 'svc', destination: out.stream as never, pretty: true });
    log.warn({ user: { token: 'tok-123' } }, 'hello there');
    const text = out.text();
    expect(text).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: svc › hello there\n/);
    expect(text).to.contain('[redacted]');
    expect(text).not.to.contain('tok-123');
    expect(text.trimStart().startsWith('{')).to.equal(false);
  });

  it('is readable only for a terminal outside production', () => {
    expect(prettyLogs('production')).to.equal(false);
    // mocha's stdout is a pipe here or a terminal there: the answer follows it.
    expect(prettyLogs('development')).to.equal(process.stdout.isTTY === true);
  });
});
