// The CSRF middleware every adapter's csrfProtection is made of (csrf-middleware.ts), with a fake
// translation: which of its steps run, in which order, for each decision.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CsrfRefusal, CsrfVerdict } from '../core/csrf.js';
import { ConfigError } from '../core/errors.js';
import { type CsrfTranslation, csrfMiddleware } from './csrf-middleware.js';

const REFUSAL: CsrfRefusal = { ok: false, status: 403, reason: 'origin', message: 'the request comes from another origin' };

interface Req {
  method: string;
  session?: string | null;
}

/** A translation over a plain request whose steps say what they did in `log`. */
function fake(
  verdict: CsrfVerdict | Promise<CsrfVerdict>,
  more: Partial<CsrfTranslation<Req, string[], undefined, string, string, unknown>> = {},
) {
  const t: CsrfTranslation<Req, string[], undefined, string, string, (refusal: CsrfRefusal, log: string[]) => string> = {
    method: (req) => req.method,
    session: (req, log) => {
      log.push('session');
      return req.session;
    },
    needs: 'needs a session: the session middleware before it',
    check: (session, _options, _req, log) => {
      log.push(`check ${session}`);
      return verdict;
    },
    pass: (_req, log) => {
      log.push('pass');
      return 'passed';
    },
    refused: (onRefused, refusal, _req, log) => onRefused(refusal, log),
    refuse: (refusal, _req, log) => {
      log.push(`refuse ${refusal.status}`);
      return 'refused';
    },
    ...more,
  };
  return t;
}

describe('csrfMiddleware', () => {
  it('passes a safe method without looking up the session or checking', () => {
    for (const method of ['GET', 'head', 'OPTIONS', 'TRACE']) {
      const log: string[] = [];
      const mw = csrfMiddleware({}, fake(REFUSAL));
      assert.equal(mw({ method }, log, undefined), 'passed');
      assert.deepEqual(log, ['pass']);
    }
  });

  it('throws a ConfigError naming the missing middleware when there is no session (or hands it to `missing`)', () => {
    for (const session of [undefined, null]) {
      const mw = csrfMiddleware({}, fake({ ok: true }));
      assert.throws(
        () => mw({ method: 'POST', session }, [], undefined),
        (e: unknown) => e instanceof ConfigError && /csrfProtection.*the session middleware before it/.test(e.message),
      );
    }
    let got: unknown;
    const log: string[] = [];
    const mw = csrfMiddleware(
      {},
      fake(
        { ok: true },
        {
          missing: (err) => {
            got = err;
            return 'missing';
          },
        },
      ),
    );
    assert.equal(mw({ method: 'DELETE' }, log, undefined), 'missing');
    assert.ok(got instanceof ConfigError);
    assert.deepEqual(log, ['session']);
  });

  it('passes an accepted request, synchronously when the check is', () => {
    const log: string[] = [];
    assert.equal(csrfMiddleware({}, fake({ ok: true }))({ method: 'POST', session: 's' }, log, undefined), 'passed');
    assert.deepEqual(log, ['session', 'check s', 'pass']);
  });

  it('refuses with the default answer, or through onRefused when given', () => {
    const log: string[] = [];
    assert.equal(csrfMiddleware({}, fake(REFUSAL))({ method: 'POST', session: 's' }, log, undefined), 'refused');
    assert.deepEqual(log, ['session', 'check s', 'refuse 403']);
    const log2: string[] = [];
    const onRefused = (refusal: CsrfRefusal, l: string[]) => {
      l.push(`onRefused ${refusal.reason}`);
      return 'own page';
    };
    assert.equal(csrfMiddleware({ onRefused }, fake(REFUSAL))({ method: 'PUT', session: 's' }, log2, undefined), 'own page');
    assert.deepEqual(log2, ['session', 'check s', 'onRefused origin']);
  });

  it('answers the promise of the decision when the check waits (a body, a lazy session), after `checked`', async () => {
    const log: string[] = [];
    const mw = csrfMiddleware({}, fake(Promise.resolve(REFUSAL), { checked: (_req, l) => void l.push('checked') }));
    const out = mw({ method: 'PATCH', session: 's' }, log, undefined);
    assert.ok(out instanceof Promise);
    assert.equal(await out, 'refused');
    assert.deepEqual(log, ['session', 'check s', 'checked', 'refuse 403']);
  });

  it('with `fail` (callback-style frameworks), sends a failed check to it and answers undefined', async () => {
    const errors: unknown[] = [];
    const mw = csrfMiddleware({}, fake(Promise.reject(new Error('body read failed')), { fail: (err) => errors.push(err) }));
    assert.equal(mw({ method: 'POST', session: 's' }, [], undefined), undefined);
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['body read failed'],
    );
  });

  it('checks its options when it is made', () => {
    assert.throws(() => csrfMiddleware({ trustedOrigins: ['not an origin'] }, fake({ ok: true })), ConfigError);
  });
});
