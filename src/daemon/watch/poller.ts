/**
 * Fallback watcher: re-read /proc/modules every `intervalMs` and diff the set of Live modules
 * (inotify and stat polling see nothing on procfs). Idle cost: one small read per interval.
 */
import type { ModuleEvent, ModuleWatcher } from './types.js';

/** Events that turn `before` into `after` (removes first, then adds; each in list order). */
export function diffModules(before: ReadonlySet<string>, after: readonly string[]): ModuleEvent[] {
  const now = new Set(after);
  const out: ModuleEvent[] = [];
  for (const n of before) if (!now.has(n)) out.push({ action: 'remove', name: n });
  for (const n of after) if (!before.has(n)) out.push({ action: 'add', name: n });
  return out;
}

export class ProcModulesPoller implements ModuleWatcher {
  readonly kind = 'poll';
  private timer: NodeJS.Timeout | undefined;
  private known = new Set<string>();
  private busy = false;

  constructor(private readonly list: () => Promise<string[]>, private readonly intervalMs: number) {}

  async start(onEvent: (e: ModuleEvent) => void, onError: (err: Error) => void): Promise<void> {
    this.known = new Set(await this.list());
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.poll(onEvent).catch((e: unknown) => onError(e instanceof Error ? e : new Error(String(e)))).finally(() => { this.busy = false; });
    }, this.intervalMs);
  }

  /** One poll (exposed for tests): read, diff, report. */
  async poll(onEvent: (e: ModuleEvent) => void): Promise<void> {
    const now = await this.list();
    const events = diffModules(this.known, now);
    this.known = new Set(now);
    for (const e of events) onEvent(e);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
