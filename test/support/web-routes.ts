export { respond as routeResponse } from '../../src/testing/remote.js';
