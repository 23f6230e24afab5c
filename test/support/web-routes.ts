export { respond as routeResponse } from '../../src/testing/routes.js';
