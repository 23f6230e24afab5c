import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Fails the build on any import of a Node.js built-in, as a bundler for Workers or the edge does. */
const noNodeBuiltins: Plugin = {
  name: 'no-node-builtins',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      return NODE_BUILTINS.has(args.path) || args.path.startsWith('node:')
        ? { errors: [{ text: `${args.path} is a Node.js built-in (imported by ${args.importer})` }] }
        : undefined;
    });
  },
};

/**
 * Bundles `entry` (inside `project`, resolving sessionkit from its node_modules) the way an edge
 * or Workers build does: platform neutral, the `worker` and `browser` conditions, every
 * Node.js built-in an error. Returns the bundle's path.
 */
export async function bundleForEdge(project: string, entry: string, outName: string): Promise<string> {
  const outfile = join(project, outName);
  await build({
    entryPoints: [entry],
    absWorkingDir: project,
    bundle: true,
    platform: 'neutral',
    format: 'esm',
    conditions: ['worker', 'browser'],
    mainFields: ['module', 'main'],
    target: 'es2022',
    outfile,
    logLevel: 'silent',
    plugins: [noNodeBuiltins],
  });
  return outfile;
}
