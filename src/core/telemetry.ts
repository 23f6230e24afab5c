// OpenTelemetry through `@opentelemetry/api` (1.x), an optional peer: loaded by the first
// createSessions that finds it installed (never at import), and asked for a tracer and a meter at
// the first request, so a provider registered after import but before that request is used.
import { tryRequire } from './require.js';

/** The pieces of `@opentelemetry/api` 1.x used here, declared locally so the published types name no optional package. */
export type Attributes = Record<string, string>;
export interface OtelSpan {
  setAttribute(key: string, value: string): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}
interface OtelTracer {
  startSpan(name: string, options?: { attributes?: Attributes }): OtelSpan;
}
export interface OtelCounter {
  add(value: number, attributes?: Attributes): void;
}
export interface OtelHistogram {
  record(value: number, attributes?: Attributes): void;
}
interface OtelMeter {
  createCounter(name: string, options?: { description?: string; unit?: string }): OtelCounter;
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } },
  ): OtelHistogram;
}
interface TracerProviderLike {
  getTracer(name: string): OtelTracer;
  /** ProxyTracerProvider's: the registered provider's tracer, undefined while none is registered. */
  getDelegateTracer?(name: string): OtelTracer | undefined;
}
interface OtelApi {
  trace: { getTracerProvider(): TracerProviderLike; setSpan(context: unknown, span: OtelSpan): unknown };
  context: { active(): unknown; with<T>(context: unknown, fn: () => T): T };
  metrics: { getMeter(name: string): OtelMeter };
  createNoopMeter(): OtelMeter;
}

/** The instrumentation scope of every tracer and meter sessionkit asks for. */
export const SCOPE = 'sessionkit';
/** OpenTelemetry's SpanStatusCode.ERROR. */
const STATUS_ERROR = 2;
/**
 * Bucket bounds of `sessionkit.store.duration`, in seconds: from 50 µs (an in-process load) to
 * 5 s (a store timeout), as OpenTelemetry's HTTP duration advice does for requests.
 */
export const DURATION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

let api: OtelApi | null | undefined;

/** `@opentelemetry/api` when the application installed it, looked up once per process; null otherwise. */
export function otelApi(): OtelApi | null {
  if (api === undefined) {
    const found = tryRequire<OtelApi>('@opentelemetry/api');
    api =
      typeof found?.trace?.getTracerProvider === 'function' &&
      typeof found.trace.setSpan === 'function' &&
      typeof found.context?.with === 'function' &&
      typeof found.metrics?.getMeter === 'function'
        ? found
        : null;
  }
  return api;
}

/** What a registered provider gives sessionkit; each is null when no provider of its kind is registered. */
export interface Instruments {
  tracer: OtelTracer | null;
  /**
   * Runs `fn` with `span` as the active span, so spans that a store's driver instrumentation makes
   * (a Redis command, a SQL query) are its children; null without a tracer.
   */
  within: (<T>(span: OtelSpan, fn: () => T) => T) | null;
  created: OtelCounter | null;
  conflicts: OtelCounter | null;
  duration: OtelHistogram | null;
}

/** Asks the registered providers for sessionkit's tracer and instruments (at the first request). */
export function instruments(otel: OtelApi | null): Instruments {
  if (otel === null) return { tracer: null, within: null, created: null, conflicts: null, duration: null };
  // Without a registered provider, the API hands out no-op tracers and meters: take none, so an
  // application without an SDK pays for no span objects on the hot path.
  const provider = otel.trace.getTracerProvider();
  const tracer = typeof provider.getDelegateTracer === 'function' ? (provider.getDelegateTracer(SCOPE) ?? null) : provider.getTracer(SCOPE);
  const within =
    tracer === null ? null : <T>(span: OtelSpan, fn: () => T): T => otel.context.with(otel.trace.setSpan(otel.context.active(), span), fn);
  const meter = otel.metrics.getMeter(SCOPE);
  if (typeof otel.createNoopMeter !== 'function' || meter === otel.createNoopMeter())
    return { tracer, within, created: null, conflicts: null, duration: null };
  return {
    tracer,
    within,
    created: meter.createCounter('sessionkit.sessions.created', {
      description: 'New sessions saved for the first time',
      unit: '{session}',
    }),
    conflicts: meter.createCounter('sessionkit.commit.conflicts', {
      description: 'Commits that met a parallel change to their session and merged on top of it',
      unit: '{conflict}',
    }),
    duration: meter.createHistogram('sessionkit.store.duration', {
      description: 'Duration of session store operations',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
  };
}

/** Ends a span with its outcome (and the public id, when there is one). */
export function endSpan(span: OtelSpan, outcome: string, id: string | null): void {
  if (id !== null) span.setAttribute('session.id', id);
  span.setAttribute('sessionkit.outcome', outcome);
  span.end();
}

/** Ends a span whose operation threw. */
export function failSpan(span: OtelSpan, outcome: string, err: unknown): void {
  span.setAttribute('sessionkit.outcome', outcome);
  span.setStatus({ code: STATUS_ERROR, message: String((err as Error)?.message ?? err) });
  span.end();
}
