/** What module watchers report: a module appeared or went away (kernel names, `_` form). */
export interface ModuleEvent {
  readonly action: 'add' | 'remove';
  readonly name: string;
  readonly seqnum?: number | undefined;
}

/**
 * A source of module events. `start` resolves once the source listens (so a listing taken after
 * it cannot miss a load); `stop` ends it and its children.
 */
export interface ModuleWatcher {
  readonly kind: string;
  start(onEvent: (e: ModuleEvent) => void, onError: (err: Error) => void): Promise<void>;
  stop(): Promise<void>;
}
