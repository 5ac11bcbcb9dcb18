import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths redacted from every log line. Passwords, tokens and Authorization headers never reach a log,
 * whatever object a caller passes (DEVELOPERS.md, non-negotiable 4).
 */
export const REDACT_PATHS = [
  'password',
  'appSpecificPassword',
  'passwordCipher',
  'authorization',
  'token',
  '*.password',
  '*.appSpecificPassword',
  '*.passwordCipher',
  '*.authorization',
  '*.Authorization',
  '*.token',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'variables.input.appSpecificPassword',
  '*.variables.input.appSpecificPassword',
];

/** Returns the application logger; `destination` lets tests capture every line. */
export function createLogger(destination?: DestinationStream, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}

export type { Logger };
