import { Writable } from 'node:stream';
import { createLogger, type Logger } from '#shared/logging/logger.js';

/** A real pino logger whose JSON lines are kept in memory for assertions. */
export function captureLogger(service = 'test'): { logger: Logger; text(): string; lines(): Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ level: 'info', service, destination: stream });
  const text = () => chunks.join('');
  return { logger, text, lines: () => text().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}
