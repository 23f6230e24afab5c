/** Where sessionkit reports what it survived (corrupt rows, cache failures, tampered data). */
export interface Logger {
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

/** Writes to the console with a `sessionkit:` prefix. */
export const consoleLogger: Logger = {
  warn: (message, details) => console.warn(`sessionkit: ${message}`, details ?? ''),
  error: (message, details) => console.error(`sessionkit: ${message}`, details ?? ''),
};

/**
 * A logger that passes each distinct message at most once per `intervalMs`, for events any
 * client can cause (a tampered cookie): the next one passed says how many were held back
 * (`details.suppressed`), so a flood of bad cookies costs one line per interval, not one each.
 */
export function rateLimited(logger: Logger, intervalMs = 60_000, clock: () => number = Date.now): Logger {
  const last = new Map<string, { at: number; suppressed: number }>();
  const pass = (level: 'warn' | 'error', message: string, details?: Record<string, unknown>) => {
    const now = clock();
    const seen = last.get(message);
    if (seen !== undefined && now - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    last.set(message, { at: now, suppressed: 0 });
    logger[level](message, suppressed > 0 ? { ...details, suppressed, intervalSeconds: intervalMs / 1000 } : details);
  };
  return { warn: (m, d) => pass('warn', m, d), error: (m, d) => pass('error', m, d) };
}
