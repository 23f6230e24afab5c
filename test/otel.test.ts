import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freshProject, root } from './support/package.js';

const run = promisify(execFile);

/**
 * OpenTelemetry as an application gets it: the packed sessionkit installed beside
 * @opentelemetry/api and the SDK's in-memory span and metric exporters, in a fresh ES module
 * project; each case runs as its own process, so each starts with no provider registered.
 */
describe('OpenTelemetry, from the packed package', () => {
  let project: string;
  before(() => {
    const versions = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies as Record<string, string>;
    const deps = ['@opentelemetry/api', '@opentelemetry/sdk-trace-base', '@opentelemetry/sdk-metrics'];
    project = freshProject('otel', 'module', Object.fromEntries(deps.map((d) => [d, versions[d]!])));
  });

  /** Runs an ES module in the project and gives what it printed as JSON. */
  async function script(name: string, code: string): Promise<any> {
    writeFileSync(join(project, name), code);
    const { stdout } = await run(process.execPath, [name], { cwd: project });
    return JSON.parse(stdout);
  }

  const SDK = `
    import { trace, metrics } from '@opentelemetry/api';
    import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
    import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
    const spans = new InMemorySpanExporter();
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    function register() {
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
      metrics.setGlobalMeterProvider(meterProvider);
    }
    async function recorded() {
      await reader.forceFlush();
      const points = {};
      for (const rm of exporter.getMetrics()) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) {
        points[m.descriptor.name] = { unit: m.descriptor.unit, scope: sm.scope.name, points: m.dataPoints.map((p) => ({ attributes: p.attributes, value: typeof p.value === 'number' ? p.value : p.value.count })) };
      }
      return {
        spans: spans.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, status: s.status.code, scope: (s.instrumentationScope ?? s.instrumentationLibrary).name })),
        metrics: points,
      };
    }
  `;

  /** A visit: a new session, a read of it, a change of it, and two parallel changes that conflict. */
  const VISITS = `
    const sessions = createSessions({ store: new MemoryStore() });
    const first = await sessions.load(undefined);
    first.set('n', 1);
    const cookie = (await sessions.commit(first)).split(';')[0];
    const read = await sessions.load(cookie);
    read.get('n');
    await sessions.commit(read);
    const one = await sessions.load(cookie);
    const two = await sessions.load(cookie);
    one.set('a', 1);
    two.set('b', 2);
    await sessions.commit(one);
    await sessions.commit(two);
    await sessions.load('sessionid=' + 'x'.repeat(32));
  `;

  it('importing every entry point loads no OpenTelemetry module, even where it is installed', async () => {
    const entries = ['sessionkit', 'sessionkit/node', 'sessionkit/hono', 'sessionkit/express', 'sessionkit/fastify', 'sessionkit/web'];
    const out = await script(
      'imports.mjs',
      `import { createRequire } from 'node:module';
      ${entries.map((e, i) => `import * as m${i} from ${JSON.stringify(e)};`).join('\n')}
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('@opentelemetry'));
      const atImport = loaded();
      const sessions = m0.createSessions({ store: new m0.MemoryStore() });
      await sessions.commit(await sessions.load(undefined));
      console.log(JSON.stringify({ atImport, afterCreate: loaded().length > 0 }));`,
    );
    assert.deepEqual(out, { atImport: [], afterCreate: true });
  });

  it('with providers registered after import, records the load and commit spans and the three metrics', async () => {
    const out = await script(
      'recorded.mjs',
      `import { createSessions, MemoryStore } from 'sessionkit';
      ${SDK}
      register(); // after sessionkit's import, before its first request
      ${VISITS}
      console.log(JSON.stringify({ ...(await recorded()), id: first.id }));`,
    );
    const { spans, metrics, id } = out as {
      spans: { name: string; attributes: Record<string, string>; status: number; scope: string }[];
      metrics: Record<string, { unit: string; scope: string; points: { attributes: Record<string, string>; value: number }[] }>;
      id: string;
    };
    assert.match(id, /^[0-9a-f]{64}$/);
    const store = { 'sessionkit.store': 'MemoryStore' };
    assert.deepEqual(
      spans.map((s) => [s.name, s.attributes]),
      [
        ['sessionkit.load', { ...store, 'sessionkit.outcome': 'absent' }],
        ['sessionkit.commit', { ...store, 'session.id': id, 'sessionkit.outcome': 'created' }],
        ['sessionkit.load', { ...store, 'session.id': id, 'sessionkit.outcome': 'loaded' }],
        ['sessionkit.commit', { ...store, 'session.id': id, 'sessionkit.outcome': 'unchanged' }],
        ['sessionkit.load', { ...store, 'session.id': id, 'sessionkit.outcome': 'loaded' }],
        ['sessionkit.load', { ...store, 'session.id': id, 'sessionkit.outcome': 'loaded' }],
        ['sessionkit.commit', { ...store, 'session.id': id, 'sessionkit.outcome': 'saved' }],
        ['sessionkit.commit', { ...store, 'session.id': id, 'sessionkit.outcome': 'saved' }],
        ['sessionkit.load', { ...store, 'sessionkit.outcome': 'rejected' }],
      ],
    );
    assert.ok(spans.every((s) => s.scope === 'sessionkit' && s.status === 0));
    assert.deepEqual(metrics['sessionkit.sessions.created'], {
      unit: '{session}',
      scope: 'sessionkit',
      points: [{ attributes: {}, value: 1 }],
    });
    assert.deepEqual(metrics['sessionkit.commit.conflicts'], {
      unit: '{conflict}',
      scope: 'sessionkit',
      points: [{ attributes: {}, value: 1 }],
    });
    const duration = metrics['sessionkit.store.duration']!;
    assert.equal(duration.unit, 's');
    const counts = Object.fromEntries(duration.points.map((p) => [p.attributes['sessionkit.operation'], p.value]));
    // loads: 3 of the session, 2 for the unknown key (its own and the lookup of a tombstone, which tells
    // a key replaced by a login moments ago from an unknown one), plus the reload of the conflicting commit;
    // updates: the first change; the conflicting one's synchronous try, its asynchronous try and its retry after the merge
    assert.deepEqual(counts, { create: 1, load: 6, update: 4 });
  });

  it('works the same from CommonJS (the require build), with the SDK registered through require', async () => {
    writeFileSync(
      join(project, 'commonjs.cjs'),
      `const { trace } = require('@opentelemetry/api');
      const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
      const { createSessions, MemoryStore } = require('sessionkit');
      const spans = new InMemorySpanExporter();
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
      (async () => {
        const sessions = createSessions({ store: new MemoryStore() });
        const session = await sessions.load(undefined);
        session.set('n', 1);
        await sessions.commit(session);
        console.log(JSON.stringify(spans.getFinishedSpans().map((s) => [s.name, s.attributes['sessionkit.outcome']])));
      })();`,
    );
    const { stdout } = await run(process.execPath, ['commonjs.cjs'], { cwd: project });
    assert.deepEqual(JSON.parse(stdout), [
      ['sessionkit.load', 'absent'],
      ['sessionkit.commit', 'created'],
    ]);
  });

  it("spans nest: under the application's active span, and a store driver's spans under sessionkit's", async () => {
    const out = await script(
      'nested.mjs',
      `import { AsyncLocalStorage } from 'node:async_hooks';
      import { context, ROOT_CONTEXT } from '@opentelemetry/api';
      import { createSessions, MemoryStore } from 'sessionkit';
      ${SDK}
      // what @opentelemetry/context-async-hooks does, in a few lines
      const als = new AsyncLocalStorage();
      context.setGlobalContextManager({
        active: () => als.getStore() ?? ROOT_CONTEXT,
        with: (ctx, fn, self, ...args) => als.run(ctx, () => fn.apply(self, args)),
        bind: (ctx, target) => target,
        enable() { return this; },
        disable() { return this; },
      });
      register();
      const driver = trace.getTracer('driver');
      class InstrumentedStore extends MemoryStore {
        async load(key, now) {
          await null;
          driver.startSpan('driver.get').end(); // what a Redis or pg instrumentation records per command
          return super.load(key, now);
        }
      }
      const sessions = createSessions({ store: new InstrumentedStore() });
      const app = trace.getTracer('app');
      await app.startActiveSpan('GET /', async (request) => {
        const session = await sessions.load('sessionid=' + 'x'.repeat(32));
        session.set('n', 1);
        await sessions.commit(session);
        request.end();
      });
      const finished = spans.getFinishedSpans();
      const idOf = (name) => finished.find((s) => s.name === name).spanContext().spanId;
      const parentOf = (name) => { const s = finished.find((s) => s.name === name); return (s.parentSpanContext ?? { spanId: s.parentSpanId }).spanId; };
      console.log(JSON.stringify({
        load: parentOf('sessionkit.load') === idOf('GET /'),
        commit: parentOf('sessionkit.commit') === idOf('GET /'),
        driver: parentOf('driver.get') === idOf('sessionkit.load'),
      }));`,
    );
    assert.deepEqual(out, { load: true, commit: true, driver: true });
  });

  it('a store failure ends the span with an error status and the outcome unavailable', async () => {
    const out = await script(
      'failed.mjs',
      `import { createSessions, MemoryStore } from 'sessionkit';
      ${SDK}
      register();
      const store = new MemoryStore();
      store.load = async () => { throw new Error('connection refused'); };
      const sessions = createSessions({ store });
      const error = await sessions.load('sessionid=' + 'x'.repeat(32)).catch((e) => e.code);
      console.log(JSON.stringify({ error, ...(await recorded()) }));`,
    );
    assert.equal(out.error, 'STORE_UNAVAILABLE');
    assert.deepEqual(
      out.spans.map((s: { name: string; attributes: object; status: number }) => [s.name, s.attributes, s.status]),
      [['sessionkit.load', { 'sessionkit.store': 'MemoryStore', 'sessionkit.outcome': 'unavailable' }, 2]],
    );
  });

  it('without a provider at the first request nothing is recorded, and sessions work unchanged', async () => {
    const out = await script(
      'unregistered.mjs',
      `import { createSessions, MemoryStore } from 'sessionkit';
      ${SDK}
      ${VISITS}
      register(); // too late: sessionkit asked for its tracer and meter at its first request
      const again = await sessions.load(cookie);
      again.set('late', true);
      await sessions.commit(again);
      console.log(JSON.stringify({ n: again.get('n'), a: again.get('a'), b: again.get('b'), ...(await recorded()) }));`,
    );
    assert.deepEqual(out, { n: 1, a: 1, b: 2, spans: [], metrics: {} });
  });
});
