/** @type {import('next').NextConfig} */
export default {
  // Load sessionkit and its SQLite driver from node_modules at run time, as plain Node.js
  // modules: sessionkit finds the driver (better-sqlite3, or node:sqlite) when a store opens.
  serverExternalPackages: ['sessionkit', 'better-sqlite3'],
};
