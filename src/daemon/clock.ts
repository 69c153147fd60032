/**
 * The daemon's sense of time, as a port: the entry point passes the system clock, tests a fake one
 * they advance by hand (no sleeping, and timing rules such as merged/kernel's maximum staleness
 * are checked exactly).
 */
export interface TimerHandle { readonly cancel: () => void }

export interface Clock {
  now(): number;
  /** Run `fn` once after `ms`; `background`: does not keep the process alive (Node's unref). */
  after(ms: number, fn: () => void, opts?: { readonly background?: boolean }): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn, opts) {
    const t = setTimeout(fn, ms);
    if (opts?.background) t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
