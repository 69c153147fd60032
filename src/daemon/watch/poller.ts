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

/** A polled module: a bare name, or a name with what tells one load of it from the next. */
export type PolledModule = string | { readonly name: string; readonly size: number; readonly address: string };

const nameOf = (m: PolledModule): string => (typeof m === 'string' ? m : m.name);
const instanceOf = (m: PolledModule): string => (typeof m === 'string' ? m : `${m.size} ${m.address}`);

export class ProcModulesPoller implements ModuleWatcher {
  readonly kind = 'poll';
  private timer: NodeJS.Timeout | undefined;
  /** name -> instance (size and load address) at the last poll. */
  private known = new Map<string, string>();
  private busy = false;

  constructor(private readonly list: () => Promise<readonly PolledModule[]>, private readonly intervalMs: number) {}

  async start(onEvent: (e: ModuleEvent) => void, onError: (err: Error) => void): Promise<void> {
    this.known = new Map((await this.list()).map((m) => [nameOf(m), instanceOf(m)]));
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.poll(onEvent).catch((e: unknown) => onError(e instanceof Error ? e : new Error(String(e)))).finally(() => { this.busy = false; });
    }, this.intervalMs);
  }

  /**
   * One poll (exposed for tests): read, diff, report. A module unloaded and loaded again between
   * two polls (e.g. replaced by an update) keeps its name but not its size or address: it is
   * reported as a remove and an add, so its build id is read again.
   */
  async poll(onEvent: (e: ModuleEvent) => void): Promise<void> {
    const now = await this.list();
    const events = diffModules(new Set(this.known.keys()), now.map(nameOf));
    for (const m of now) {
      const before = this.known.get(nameOf(m));
      if (before !== undefined && before !== instanceOf(m)) events.push({ action: 'remove', name: nameOf(m) }, { action: 'add', name: nameOf(m) });
    }
    this.known = new Map(now.map((m) => [nameOf(m), instanceOf(m)]));
    for (const e of events) onEvent(e);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
