import type { Clock, TimerHandle } from '../../src/daemon/clock.js';

/** A clock that moves only when told: `advance(ms)` runs every timer due, in time order. */
export class FakeClock implements Clock {
  private t = 1_000_000;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  now(): number { return this.t; }
  after(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return { cancel: () => { this.timers = this.timers.filter((x) => x !== timer); } };
  }
  /** Timers waiting (tests: nothing scheduled means nothing will happen). */
  get pending(): number { return this.timers.length; }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      // Let promise chains started by the timer run before the next one fires.
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
    this.t = end;
  }
}
