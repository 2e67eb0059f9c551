import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';

export type { PinoLogger };

/** Log levels, as `LOG_LEVEL` takes them (pino's names). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/**
 * Fields that must never reach a log line: personal data (email, address) and secrets (tokens,
 * signatures, keys, passwords). Logging code never adds them on purpose; this catches the accident.
 */
const SENSITIVE_FIELDS = [
  'email',
  'shippingAddress',
  'token',
  'authorization',
  'webhookSecret',
  'apiKey',
  'password',
  'secret',
  'key',
  'signature',
];
/** Each field at the top of a line and up to three levels down, in objects and in arrays. */
const REDACTED_PATHS = SENSITIVE_FIELDS.flatMap((field) => [
  field,
  `*.${field}`,
  `*.*.${field}`,
  `*.*.*.${field}`,
  `*[*].${field}`,
  `*.*[*].${field}`,
]);

export interface LoggerOptions {
  level: LogLevelName;
  /** Human-readable lines instead of JSON: for a person at a terminal (`npm start`), never for shipping. */
  pretty?: boolean;
  /** Where lines go; stdout by default. Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

/** The root logger of a process: JSON lines with `component` and whatever ids the caller binds. */
export function createLogger(options: LoggerOptions): PinoLogger {
  const settings = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (options.destination) return pino(settings, options.destination);
  if (options.pretty) {
    return pino({
      ...settings,
      transport: {
        target: 'pino-pretty',
        options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true },
      },
    });
  }
  return pino(settings);
}

const TEMPORAL_TO_PINO: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The SDK hands failures over as `error` (an Error, which JSON would print as `{}`): its class, message and
 * failure type instead. Not its stack or cause, which may quote a payload.
 */
function withReadableError(meta: LogMetadata): LogMetadata {
  const error: unknown = meta.error;
  if (!(error instanceof Error)) return meta;
  const type = (error as { type?: unknown }).type;
  return {
    ...meta,
    error: { name: error.name, message: error.message, ...(typeof type === 'string' ? { type } : {}) },
  };
}

/**
 * The Temporal SDK's logger, written through pino: worker lines, activity lines (`Context.log`, with the
 * activity's workflowId and runId) and workflow lines (`workflow.log`, replay-safe: the SDK drops them
 * while replaying), each with the ids the SDK attaches.
 */
export class TemporalPinoLogger implements TemporalLogger {
  constructor(private readonly logger: PinoLogger) {}

  log(level: LogLevel, message: string, meta: LogMetadata = {}): void {
    this.logger[TEMPORAL_TO_PINO[level]](withReadableError(meta), message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * The process's logger from `LOG_LEVEL` and `LOG_FORMAT`. Without a format, lines are JSON, except for a
 * person at a terminal (`interactive`: `npm start`), who gets them pretty.
 */
export function loggerFromConfig(
  log: { level: LogLevelName; format: 'json' | 'pretty' | null },
  interactive = false,
): PinoLogger {
  const pretty = log.format === 'pretty' || (log.format === null && interactive && process.stdout.isTTY === true);
  return createLogger({ level: log.level, pretty });
}
