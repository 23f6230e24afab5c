// The adapter sequence (sequence.ts) on its own, with a stand-in for createSessions' result whose
// load and commit answer at once or through a promise, succeed or fail: what every adapter now
// relies on instead of its own copy.
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { StoreUnavailableError } from '../core/errors.js';
import type { Session } from '../core/session.js';
import { type CommitResponse, createSessions, type Sessions } from '../index.js';
import { MemoryStore } from '../stores/memory.js';
import { withSession } from './node.js';
import { chain, chainCaught, commitStep, loadStep, onRejection, runSequence, type Translation } from './sequence.js';

const SESSION = { fake: 'session' } as unknown as Session<any>;
const COMMIT: CommitResponse = {
  setCookie: 'sid=1',
  vary: true,
  expireCookies: [],
  cacheControl: null,
  clearSiteData: null,
} as unknown as CommitResponse;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A stand-in for createSessions' result: load and commit as given (a value, a promise, or a throw). */
function fakeSessions(
  load: () => unknown,
  commit: (session: unknown, options: { status: number }) => unknown = () => COMMIT,
): Sessions<any> {
  return { load, commitResponse: commit, logger: silent } as unknown as Sessions<any>;
}

const fail = (err: unknown) => () => {
  throw err;
};
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('adapter sequence: continuation-passing steps', () => {
  it('loadStep calls back before returning when the load answers at once, with the context it was given', () => {
    const seen: unknown[] = [];
    const out = loadStep(
      fakeSessions(() => SESSION),
      { headers: {} },
      (session, a, b, c) => {
        seen.push(session, a, b, c);
        return 'answered';
      },
      () => 'error',
      1,
      2,
      3,
    );
    assert.equal(out, 'answered');
    assert.deepEqual(seen, [SESSION, 1, 2, 3]);
  });

  it('loadStep answers a thrown load through onError, at once', () => {
    const err = new StoreUnavailableError('down');
    let got: unknown;
    const out = loadStep(
      fakeSessions(fail(err)),
      { headers: {} },
      () => 'session',
      (e) => {
        got = e;
        return 'error';
      },
      0,
      0,
      0,
    );
    assert.equal(out, 'error');
    assert.equal(got, err);
  });

  it('loadStep waits for a load that is a promise, then calls onSession (or onError when it rejects)', async () => {
    const calls: string[] = [];
    const pending = loadStep(
      fakeSessions(async () => SESSION),
      { headers: {} },
      () => calls.push('session'),
      () => calls.push('error'),
      0,
      0,
      0,
    );
    assert.equal(pending, undefined);
    assert.equal(calls.length, 0);
    loadStep(
      fakeSessions(async () => Promise.reject(new StoreUnavailableError('down'))),
      { headers: {} },
      () => calls.push('session 2'),
      () => calls.push('error 2'),
      0,
      0,
      0,
    );
    await tick();
    assert.deepEqual(calls, ['session', 'error 2']);
  });

  it('commitStep passes the status, calls back at once for a synchronous commit, and answers a thrown commit through onError', () => {
    let status: unknown;
    const sessions = fakeSessions(
      () => SESSION,
      (_session: unknown, options: { status: number }) => {
        status = options.status;
        return COMMIT;
      },
    );
    assert.equal(
      commitStep(
        sessions,
        SESSION,
        201,
        (r) => r,
        () => null,
        0,
        0,
        0,
      ),
      COMMIT,
    );
    assert.equal(status, 201);
    const err = new Error('commit');
    assert.equal(
      commitStep(
        fakeSessions(() => SESSION, fail(err)),
        SESSION,
        200,
        () => 'done',
        (e) => e,
        0,
        0,
        0,
      ),
      err,
    );
  });

  it('commitStep waits for a commit that writes to the store', async () => {
    const calls: unknown[] = [];
    const sessions = fakeSessions(
      () => SESSION,
      async () => COMMIT,
    );
    assert.equal(
      commitStep(
        sessions,
        SESSION,
        200,
        (r) => calls.push(r),
        () => calls.push('error'),
        0,
        0,
        0,
      ),
      undefined,
    );
    assert.deepEqual(calls, []);
    await tick();
    assert.deepEqual(calls, [COMMIT]);
  });

  it('chain answers at once for a value and the promise of the answer otherwise', async () => {
    assert.equal(
      chain(2, (v, a: number) => v * a, 3, 0, 0),
      6,
    );
    const later = chain(Promise.resolve(2), (v, a: number) => v * a, 5, 0, 0);
    assert.ok(later instanceof Promise);
    assert.equal(await later, 10);
  });

  it('chainCaught sends a rejection, and what the callback then throws, to onError', async () => {
    const errors: unknown[] = [];
    const boom = new Error('callback');
    assert.equal(
      chainCaught(
        Promise.reject(new Error('value')),
        () => 'x',
        (e) => errors.push(e),
        0,
        0,
        0,
      ),
      undefined,
    );
    chainCaught(
      Promise.resolve(1),
      () => {
        throw boom;
      },
      (e) => errors.push(e),
      0,
      0,
      0,
    );
    await tick();
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['value', 'callback'],
    );
    assert.throws(
      () =>
        chainCaught(
          1,
          () => {
            throw boom;
          },
          (e) => errors.push(e),
          0,
          0,
          0,
        ),
      boom,
    );
  });

  it("onRejection reports a handler's rejected promise and ignores anything else", async () => {
    const errors: unknown[] = [];
    onRejection('value', (e) => errors.push(e), 0, 0, 0);
    onRejection(Promise.resolve('fine'), (e) => errors.push(e), 0, 0, 0);
    onRejection(Promise.reject(new Error('handler')), (e, a) => errors.push([(e as Error).message, a]), 'ctx', 0, 0);
    await tick();
    assert.deepEqual(errors, [['handler', 'ctx']]);
  });
});

/** A translation whose answers are strings, recording what it was asked. */
function recorder(run: (session: Session<any>) => string | Promise<string> = () => 'app') {
  const calls: string[] = [];
  const t: Translation<any, string, number, string> = {
    request: () => ({ headers: {} }),
    endpointRequest: () => null,
    deviceBound: () => 'dbsc',
    run: (session, a, b) => {
      calls.push(`run ${a} ${b}`);
      return run(session);
    },
    status: () => 200,
    commit: (out, result) => `${out} + ${result.setCookie}`,
    loadFailed: (err) => `load failed: ${(err as Error).message}`,
    commitFailed: (err, out) => {
      calls.push(`dropped ${out}`);
      return `commit failed: ${(err as Error).message}`;
    },
  };
  return { t, calls };
}

describe('adapter sequence: runSequence', () => {
  it('runs the application before its first await when the store answers at once', async () => {
    const { t, calls } = recorder();
    const answer = runSequence(
      fakeSessions(() => SESSION),
      t,
      'ctx',
      7,
    );
    assert.deepEqual(calls, ['run ctx 7']); // in the same tick
    assert.equal(await answer, 'app + sid=1');
  });

  it('answers a failed asynchronous load with the translation answer, without running the application', async () => {
    const { t, calls } = recorder();
    const answer = await runSequence(
      fakeSessions(async () => Promise.reject(new StoreUnavailableError('store down'))),
      t,
      'ctx',
      0,
    );
    assert.match(answer, /^load failed: .*store down/);
    assert.deepEqual(calls, []);
  });

  it("answers a failed commit with the translation's error answer, dropping the application's answer", async () => {
    const { t, calls } = recorder();
    const answer = await runSequence(
      fakeSessions(
        async () => SESSION,
        async () => Promise.reject(new StoreUnavailableError('write failed')),
      ),
      t,
      'ctx',
      0,
    );
    assert.match(answer, /^commit failed: .*write failed/);
    assert.deepEqual(calls, ['run ctx 0', 'dropped app']);
  });

  it("lets the application's own error go up, committing nothing", async () => {
    let committed = false;
    const { t } = recorder(() => {
      throw new Error('app broke');
    });
    await assert.rejects(
      runSequence(
        fakeSessions(
          () => SESSION,
          () => {
            committed = true;
            return COMMIT;
          },
        ),
        t,
        '',
        0,
      ),
      /app broke/,
    );
    assert.equal(committed, false);
  });
});

describe('adapter sequence: node:http', () => {
  it('runs the handler in the same tick when the request carries no session cookie', () => {
    const sessions = createSessions({ store: new MemoryStore(), logger: silent });
    const req = new IncomingMessage(new Socket());
    req.method = 'GET';
    req.url = '/';
    const res = new ServerResponse(req);
    let ran = false;
    withSession(sessions, (_req, _res, session) => {
      ran = session.isEmpty;
    })(req, res);
    assert.equal(ran, true);
  });
});
