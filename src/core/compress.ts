import { Unzlib, zlibSync } from 'fflate';
import { builtin } from './require.js';

/**
 * zlib streams (RFC 1950, as Python's `zlib.compress` writes them) for Django's signed format:
 * `node:zlib` where the runtime has it, fflate elsewhere (Workers without `nodejs_compat`, edge).
 * Both read what either writes.
 */
export interface Compression {
  deflate(data: Uint8Array): Uint8Array;
  /** Throws when the stream is not zlib, or inflates to more than `maxOutput` bytes (zip-bomb guard). */
  inflate(data: Uint8Array, maxOutput: number): Uint8Array;
}

type NodeZlib = Pick<typeof import('node:zlib'), 'deflateSync' | 'inflateSync'>;

/** Compression through `node` (a `node:zlib` module) when given, through fflate otherwise. */
export function makeCompression(node: NodeZlib | undefined): Compression {
  if (node && typeof node.deflateSync === 'function' && typeof node.inflateSync === 'function') {
    const { deflateSync, inflateSync } = node;
    return {
      deflate: (data) => deflateSync(data),
      inflate: (data, maxOutput) => inflateSync(data, { maxOutputLength: maxOutput }),
    };
  }
  return {
    deflate: (data) => zlibSync(data),
    inflate(data, maxOutput) {
      const chunks: Uint8Array[] = [];
      let size = 0;
      const stream = new Unzlib((chunk) => {
        size += chunk.length;
        if (size > maxOutput) throw new RangeError(`zlib stream inflates to more than ${maxOutput} bytes`);
        chunks.push(chunk);
      });
      stream.push(data, true);
      const out = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.length;
      }
      return out;
    },
  };
}

/** The runtime's compression: `node:zlib` where there is one. */
export const compression: Compression = makeCompression(builtin<NodeZlib>('node:zlib'));
