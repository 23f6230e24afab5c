#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SessionError } from '../core/errors.js';
import { isWellFormedKey } from '../core/keys.js';
import { createStore } from '../stores/url.js';
// Registers the django+sqlite: and django+postgres:// store URLs.
import '../django/index.js';
import { isClientSide, type AnyStore } from '../core/store.js';

const HELP = `usage: sessionkit <command> [KEY] --store URL

commands:
  clearsessions          remove expired sessions (Django's manage.py clearsessions);
                         can be run as a cron job
  inspect KEY            print one session's data as JSON
  stats                  print count, expired and bytes of the stored sessions

options:
  --store URL            memory:, sqlite:./sessions.sqlite3, redis://host:port/db,
                         postgres://user@host/db,
                         django+sqlite:PATH (secret from $DJANGO_SECRET_KEY)
                         (default: $SESSION_STORE)
  -h, --help             show this help
`;

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

class UsageError extends Error {}

function parse(argv: string[]): { command?: string; args: string[]; store?: string; help: boolean } {
  const args: string[] = [];
  let store: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') help = true;
    else if (a === '--store') {
      store = argv[++i];
      if (store === undefined) throw new UsageError('--store needs a URL, e.g. --store sqlite:./sessions.sqlite3');
    } else if (a.startsWith('--store=')) store = a.slice('--store='.length);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}; see sessionkit --help`);
    else args.push(a);
  }
  return { command: args.shift(), args, store, help };
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let store: AnyStore | undefined;
  try {
    const { command, args, store: url, help } = parse(argv);
    if (help || command === 'help') {
      io.out(HELP.trimEnd());
      return 0;
    }
    if (!command) throw new UsageError('no command given; see sessionkit --help');
    if (!['clearsessions', 'inspect', 'stats'].includes(command))
      throw new UsageError(`unknown command ${command}; the commands are clearsessions, inspect, stats`);
    const storeUrl = url ?? env.SESSION_STORE;
    if (!storeUrl) throw new UsageError('no store given: pass --store URL (or set SESSION_STORE)');
    if (command === 'inspect' && args.length !== 1)
      throw new UsageError('inspect takes one session key: sessionkit inspect KEY --store URL');
    if (command !== 'inspect' && args.length > 0) throw new UsageError(`${command} takes no arguments`);
    store = createStore(storeUrl);
    if (command === 'clearsessions') {
      const removed = await store.clearExpired();
      io.out(`removed ${removed} expired session${removed === 1 ? '' : 's'}`);
    } else if (command === 'stats') {
      if (isClientSide(store)) throw new UsageError('the cookie store keeps nothing on the server: there are no stats');
      const { count, expired, bytes } = await store.stats();
      io.out(`count: ${count}`);
      io.out(`expired: ${expired}`);
      io.out(`bytes: ${bytes}`);
    } else {
      if (isClientSide(store)) throw new UsageError('the cookie store keeps nothing on the server: there is nothing to inspect');
      const key = args[0]!;
      const found = isWellFormedKey(key) || /^[A-Za-z0-9]{8,40}$/.test(key) ? await store.load(key) : null;
      if (!found) {
        io.err(`sessionkit: no live session under that key`);
        return 1;
      }
      io.out(JSON.stringify(found.data, null, 2));
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`sessionkit: ${err.message}`);
      return 2;
    }
    const message = err instanceof SessionError ? err.message : `sessionkit: ${(err as Error)?.message ?? String(err)}`;
    io.err(message.split('\n')[0]!);
    return 1;
  } finally {
    await store?.close().catch(() => {});
  }
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
  process.exitCode = code;
}
