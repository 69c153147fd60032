/**
 * The daemon's long-lived Node children (warm encoders, the merged/kernel worker), both sides.
 * The parent starts one with an IPC pipe ('advanced' serialization: Uint8Arrays travel as such),
 * through `setpriv --pdeathsig KILL` (util-linux) when present, so that a SIGKILLed daemon, which
 * runs no exit handler, leaves no child behind. The child exits when that pipe closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';

export interface NodeChildOptions {
  /** The node binary (default: this one). */
  readonly node?: string | undefined;
  /** Node options before the script (a heap limit). */
  readonly nodeArgs?: readonly string[];
  /** Start through setpriv --pdeathsig KILL (default: when /usr/bin/setpriv exists). */
  readonly pdeathsig?: boolean | undefined;
}

/** Starts `script` as a Node child with an IPC pipe; stdout ignored, stderr piped for the last words of a crash. */
export function spawnNodeChild(script: string, o: NodeChildOptions = {}): ChildProcess {
  const node = o.node ?? process.execPath;
  const args = [...(o.nodeArgs ?? []), script];
  const [cmd, argv] = (o.pdeathsig ?? existsSync(SETPRIV)) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', node, ...args]] : [node, args];
  return spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
}

/**
 * In a child: the function that answers the daemon. Without an IPC pipe (started by hand) it says
 * so and exits 2; when the pipe closes (the daemon went away, even by SIGKILL) it exits 0, since
 * nothing would read an answer.
 */
export function replyToParent<Reply>(who: string): (reply: Reply) => void {
  const send = process.send?.bind(process);
  if (!send) {
    process.stderr.write(`${who}: started without an IPC channel (btf-extrad starts it)\n`);
    process.exit(2);
  }
  process.on('disconnect', () => process.exit(0));
  return (reply) => { send(reply); };
}
