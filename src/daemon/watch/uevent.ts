/**
 * Kernel module uevents from `udevadm monitor --kernel --subsystem-match=module --property`:
 * one block per event (a header line "KERNEL[ts] add /module/loop (module)", KEY=VALUE lines,
 * a blank line). The parser is fed arbitrary chunks; the monitor wraps a child process (or any
 * readable stream, for tests and the demo).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ModuleEvent, ModuleWatcher } from './types.js';

export const UDEVADM_MONITOR = ['udevadm', 'monitor', '--kernel', '--subsystem-match=module', '--property'] as const;

export class UeventParser {
  private buffer = '';
  private block: Map<string, string> = new Map();
  /**
   * A blank line went by: the banner is complete. udevadm prints "monitor will print the received
   * events for:" BEFORE it binds its netlink socket and "KERNEL - the kernel uevent" and a blank
   * line after, so only the end of the banner means it listens.
   */
  sawBlockEnd = false;

  /** Feed text; returns the module events completed by it. */
  push(chunk: string): ModuleEvent[] {
    this.buffer += chunk;
    const out: ModuleEvent[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.line(line, out);
    }
    // A monitor that never sends a newline must not grow memory without bound.
    if (this.buffer.length > 65536) this.buffer = '';
    return out;
  }

  /** End of stream: a last block without its blank line still counts. */
  end(): ModuleEvent[] {
    const out: ModuleEvent[] = [];
    if (this.buffer !== '') { this.line(this.buffer, out); this.buffer = ''; }
    this.line('', out);
    return out;
  }

  private line(line: string, out: ModuleEvent[]): void {
    if (line.trim() === '') {
      this.sawBlockEnd = true;
      const ev = this.finish();
      if (ev) out.push(ev);
      return;
    }
    const eq = line.indexOf('=');
    if (eq > 0 && /^[A-Z0-9_]+$/.test(line.slice(0, eq))) this.block.set(line.slice(0, eq), line.slice(eq + 1));
    // Anything else is a header ("KERNEL[...] add ...", the monitor's banner): ignored.
  }

  private finish(): ModuleEvent | undefined {
    const b = this.block;
    this.block = new Map();
    const action = b.get('ACTION');
    const devpath = b.get('DEVPATH');
    if (b.get('SUBSYSTEM') !== 'module' || (action !== 'add' && action !== 'remove') || devpath === undefined) return undefined;
    const m = /^\/module\/([^/]+)$/.exec(devpath);
    if (!m || m[1] === undefined) return undefined;
    const seq = b.get('SEQNUM');
    return { action, name: m[1], seqnum: seq !== undefined && /^\d+$/.test(seq) ? Number(seq) : undefined };
  }
}

export interface UeventStreamSource {
  /** Start the source; the end of its banner (or `readyAfterMs`) means it listens. */
  open(): { stream: Readable; child?: ChildProcess };
  /** The stream belongs to the source (destroy it on stop) or to the caller (only detach). */
  readonly owned: boolean;
}

/** Runs a command (udevadm by default) and parses its stdout. */
export function commandSource(argv: readonly string[] = UDEVADM_MONITOR): UeventStreamSource {
  return {
    owned: true,
    open() {
      const [cmd, ...args] = argv;
      if (cmd === undefined) throw new Error('empty uevent command');
      // Own process group, so stop() ends the monitor and anything it started (wrapper scripts).
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
      if (!child.stdout) throw new Error('no stdout from uevent command');
      return { stream: child.stdout, child };
    },
  };
}

/** An already-open stream (tests, demo). */
export function streamSource(stream: Readable): UeventStreamSource {
  return { owned: false, open: () => ({ stream }) };
}

export class UeventWatcher implements ModuleWatcher {
  readonly kind = 'uevent';
  private child: ChildProcess | undefined;
  private stream: Readable | undefined;
  private stopped = false;
  private detach: (() => void) | undefined;

  /** `readyAfterMs`: how long to wait for the monitor's banner before assuming it listens. */
  constructor(private readonly source: UeventStreamSource, private readonly readyAfterMs = 1000) {}

  start(onEvent: (e: ModuleEvent) => void, onError: (err: Error) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const ready = (): void => { if (!settled) { settled = true; clearTimeout(timer); resolve(); } };
      const fail = (e: Error): void => {
        if (!settled) { settled = true; clearTimeout(timer); reject(e); } else if (!this.stopped) onError(e);
      };
      const timer = setTimeout(ready, this.readyAfterMs);
      let opened;
      try { opened = this.source.open(); } catch (e) { fail(e instanceof Error ? e : new Error(String(e))); return; }
      this.child = opened.child;
      this.stream = opened.stream;
      const parser = new UeventParser();
      const s = opened.stream;
      s.setEncoding('utf8');
      const onData = (chunk: string): void => {
        const events = parser.push(chunk);
        if (parser.sawBlockEnd) ready();
        for (const ev of events) onEvent(ev);
      };
      const onEnd = (): void => {
        for (const ev of parser.end()) onEvent(ev);
        fail(new Error('uevent monitor ended'));
      };
      const onErr = (e: Error): void => fail(e);
      s.on('data', onData);
      s.on('end', onEnd);
      s.on('error', onErr);
      s.resume(); // a stream paused by an earlier watcher's detach does not resume on 'data' alone
      this.detach = () => { s.off('data', onData); s.off('end', onEnd); s.off('error', onErr); s.pause(); };
      this.child?.on('error', (e) => fail(e));
      this.child?.on('exit', (code, sig) => { if (!this.stopped) fail(new Error(`uevent monitor exited (${code ?? sig})`)); });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      const signal = (sig: NodeJS.Signals): void => {
        try { if (child.pid !== undefined) process.kill(-child.pid, sig); } catch { child.kill(sig); }
      };
      signal('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 1000).unref())]);
      if (child.exitCode === null && child.signalCode === null) signal('SIGKILL');
    }
    this.detach?.();
    if (this.source.owned) this.stream?.destroy();
  }
}
