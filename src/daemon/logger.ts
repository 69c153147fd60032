/**
 * Logging through winston: under systemd (JOURNAL_STREAM or INVOCATION_ID set) each line goes to
 * stdout prefixed with its syslog priority `<N>` so journald keeps levels; on a terminal it is
 * human-readable with a timestamp. One line per decision: object, action, reason, duration.
 */
import { Writable } from 'node:stream';
import winston from 'winston';


export interface DecisionFields {
  readonly object: string;
  readonly action: string;
  readonly reason?: string | undefined;
  readonly ms?: number | undefined;
}

export interface DaemonLogger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  /** One line per decision: "loop: publish (cache hit) 3 ms". */
  decision(d: DecisionFields): void;
  close(): Promise<void>;
}

/** syslog priorities, as journald reads them from `<N>` prefixes. */
export const SYSLOG_PRIORITY = { emerg: 0, alert: 1, crit: 2, error: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;

export function formatDecision(d: DecisionFields): string {
  return `${d.object}: ${d.action}${d.reason ? ` (${d.reason})` : ''}${d.ms !== undefined ? ` ${Math.round(d.ms)} ms` : ''}`;
}

export type LogStyle = 'journal' | 'human' | 'silent';

export function detectLogStyle(env: NodeJS.ProcessEnv = process.env): LogStyle {
  return env['JOURNAL_STREAM'] !== undefined || env['INVOCATION_ID'] !== undefined ? 'journal' : 'human';
}

/** A stream that keeps the lines written to it (tests). */
export function memoryStream(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) { lines.push(...String(chunk).split('\n').filter((l) => l !== '')); cb(); },
  });
  return { stream, lines };
}

export function createLogger(style: LogStyle, opts: { level?: string; stream?: NodeJS.WritableStream } = {}): DaemonLogger {
  const level = opts.level ?? 'info';
  const transports: winston.transport[] = [];
  {
    const format = style === 'journal'
      ? winston.format.printf((i) => `<${SYSLOG_PRIORITY[i.level as keyof typeof SYSLOG_PRIORITY] ?? 6}>${String(i.message)}`)
      : winston.format.printf((i) => `${new Date().toISOString().slice(11, 23)} ${i.level.padEnd(7)} ${String(i.message)}`);
    transports.push(new winston.transports.Stream({ stream: opts.stream ?? process.stdout, format }));
  }
  const w = winston.createLogger({ levels: winston.config.syslog.levels, level, transports, silent: style === 'silent' });
  const flat = (m: string): string => m.replace(/[\r\n]+/g, ' ');
  return {
    error: (m) => { w.error(flat(m)); },
    warn: (m) => { w.warning(flat(m)); },
    info: (m) => { w.info(flat(m)); },
    debug: (m) => { w.debug(flat(m)); },
    decision: (d) => { w.info(flat(formatDecision(d))); },
    close: () => new Promise<void>((resolve) => {
      w.on('finish', () => resolve());
      w.end();
      setTimeout(resolve, 200).unref();
    }),
  };
}
