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
