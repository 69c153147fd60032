/**
 * systemd readiness, status and watchdog through the `systemd-notify` tool (Node has no unix
 * datagram sockets), only when NOTIFY_SOCKET is set; the unit sets NotifyAccess=all so messages
 * from the child are accepted. systemd-notify (>= 246) waits by default until PID 1 has processed
 * the message (a barrier), so it is still alive when systemd attributes it to our cgroup: no lost READY.
 */
import { spawn } from 'node:child_process';

export interface Notifier {
  ready(status: string): void;
  status(status: string): void;
  stopping(): void;
  stop(): void;
}

export const nullNotifier: Notifier = { ready() {}, status() {}, stopping() {}, stop() {} };

export function systemdNotifier(env: NodeJS.ProcessEnv = process.env, command = 'systemd-notify'): Notifier {
  if (!env['NOTIFY_SOCKET']) return nullNotifier;
  let lastStatus = '';
  const send = (...args: string[]): void => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', () => { /* systemd-notify missing: nothing to tell */ });
    child.unref();
  };
  const usec = Number(env['WATCHDOG_USEC'] ?? '0');
  const watchdogPid = env['WATCHDOG_PID'];
  let timer: NodeJS.Timeout | undefined;
  if (usec > 0 && (watchdogPid === undefined || Number(watchdogPid) === process.pid)) {
    timer = setInterval(() => send('WATCHDOG=1'), Math.max(1000, usec / 2000));
    timer.unref();
  }
  return {
    ready: (s) => { lastStatus = s; send('--ready', `--status=${s}`); },
    status: (s) => { if (s !== lastStatus) { lastStatus = s; send(`--status=${s}`); } },
    stopping: () => send('STOPPING=1'),
    stop: () => { if (timer) clearInterval(timer); },
  };
}
