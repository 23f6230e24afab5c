export { describeStore, recordingLogger, type StoreUnderTest, type DescribeStoreOptions } from './store-suite.js';
export {
  describeAdapter,
  type DescribeAdapterOptions,
  type Routes,
  type RouteContext,
  type RouteResult,
  type RunningServer,
} from './adapter-suite.js';
