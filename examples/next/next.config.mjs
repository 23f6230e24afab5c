/** @type {import('next').NextConfig} */
export default {
  // better-sqlite3 (the default store) is a native module: load it from node_modules at run time.
  serverExternalPackages: ['better-sqlite3'],
};
