/** Answers what `fn` answers once it stops throwing, polling every 50 ms (a client reconnecting, a breaker's probe); fails after `ms`. */
export async function eventually<T>(what: string, fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} did not happen in ${ms} ms`, { cause: err });
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
