import { pino, type Logger, type DestinationStream } from 'pino';
import { createRequire } from 'node:module';
import type prettyModule from 'pino-pretty';
import type { LogLevel } from '../config/types.js';

export type { Logger };

/**
 * Paths pino removes before a line is written. Request and response bodies are never
 * logged at all; these cover the headers and fields that carry credentials.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["stripe-signature"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.secret',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.idToken',
  '*.code',
  '*.cookie',
  '*.authorization',
];

export interface LoggerOptions {
  level: LogLevel;
  service: string;
  /** Tests capture output here; production writes JSON lines to stdout. */
  destination?: DestinationStream;
  /**
   * Readable lines (pino-pretty) instead of JSON: for a person at a terminal in development
   * (see `prettyLogs`). Redaction applies before formatting, as for JSON.
   */
  pretty?: boolean;
}

/** Readable logs when a person watches: stdout is a terminal and this is not production. */
export function prettyLogs(nodeEnv: string | undefined): boolean {
  return nodeEnv !== 'production' && process.stdout.isTTY === true;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: opts.service },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.pretty
      ? (createRequire(import.meta.url)('pino-pretty') as typeof prettyModule)({ destination: opts.destination ?? 1, colorize: !opts.destination, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', messageFormat: '{service} › {msg}', sync: true })
      : (opts.destination ?? pino.destination({ dest: 1, sync: false })),
  );
}
