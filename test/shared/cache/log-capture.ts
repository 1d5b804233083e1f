import { createLogger, type Logger } from '#shared/logging/logger.js';

export interface LogLine {
  level: string;
  msg: string;
}

/** A real pino logger whose JSON lines are kept in memory, so tests can count them. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({
    level: 'info',
    service: 'test',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  });
  return { logger, lines };
}
