/**
 * What a bench server observes (BENCH_OBSERVE): `events` gives createSessions an `onEvent` that
 * counts events by type (an audit log's cheapest form); `otel` registers the OpenTelemetry SDK
 * before createSessions, with a batch span processor and a metric reader, as a production app
 * would; `none` (or unset) neither. Answers `metrics` with the cumulative metric points, for the
 * dashboard the observability bench draws.
 */
import { metrics, trace } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { onRequest } from './common.js';

export const observeKind = process.env.BENCH_OBSERVE ?? 'none';

/** The createSessions options the observation needs (none for OpenTelemetry: it is found, not configured). */
export function observeOptions(): Record<string, unknown> {
  if (observeKind !== 'events') return {};
  const counts = new Map<string, number>();
  onRequest('events', () => Object.fromEntries(counts));
  return { onEvent: (event: { type: string }) => void counts.set(event.type, (counts.get(event.type) ?? 0) + 1) };
}

/** Spans exported in batches, as to a collector, then dropped (counted). */
class CountingExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (result: { code: number }) => void): void {
    this.spans += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

if (observeKind === 'otel') {
  const spans = new CountingExporter();
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans)] }));
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  onRequest('metrics', async () => {
    await reader.forceFlush();
    const last = exporter.getMetrics().at(-1);
    exporter.reset();
    const out: Record<string, unknown[]> = {};
    for (const sm of last?.scopeMetrics ?? [])
      for (const m of sm.metrics) out[m.descriptor.name] = m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }));
    return { at: Date.now(), spans: spans.spans, metrics: out };
  });
}
