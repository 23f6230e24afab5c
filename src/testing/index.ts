/**
 * The suites sessionkit runs on itself, for your own store or adapter: `describeStore` (the store
 * conformance suite) and `describeAdapter` (the browser-facing behavior table), on `node:test`.
 *
 * @module sessionkit/testing
 */
export { describeStore, recordingLogger, type StoreUnderTest, type DescribeStoreOptions } from './store-suite.js';
export {
  describeAdapter,
  type DescribeAdapterOptions,
  type Routes,
  type RouteContext,
  type RouteResult,
  type RunningServer,
} from './adapter-suite.js';
