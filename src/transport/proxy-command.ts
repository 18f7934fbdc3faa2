/**
 * ProxyCommand, as ssh runs it: `$SHELL -c "exec COMMAND"` (tokens already expanded), its stdin and
 * stdout being the connection to the SSH server. The child's stdio becomes the Duplex ssh2 speaks SSH
 * over (`sock`). The child is ours: it is killed (by its handle) when the socket is destroyed. When it
 * exits, the socket ends (exit 0) or fails with the command's exit status and last stderr lines: the
 * reason a connection through it failed is the command's, not a broken pipe's.
 */
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { TransportError } from './types.js';

export function proxyCommandSocket(command: string, label: string): Promise<Duplex> {
  const shell = process.env.SHELL && process.env.SHELL !== '' ? process.env.SHELL : '/bin/sh';
  const child = spawn(shell, ['-c', `exec ${command}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  // a write to a command that has gone away: its exit status says why
  child.stdin.on('error', () => undefined);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const sock = new Duplex({
    read() {
      child.stdout.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (!child.stdin.writable) return cb();
      child.stdin.write(chunk, () => cb());
    },
    final(cb) {
      child.stdin.end();
      cb();
    },
    destroy(err, cb) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      cb(err);
    },
  });
  child.stdout.on('data', (d: Buffer) => {
    if (!sock.push(d)) child.stdout.pause();
  });
  child.once('close', (code, signal) => {
    if (sock.destroyed) return;
    if (code === 0) {
      sock.push(null);
      return;
    }
    const why = stderr.trim().split('\n').slice(-3).join('; ');
    const err = new TransportError(
      label,
      'unreachable',
      `ProxyCommand (${command}) exited ${signal ?? `with ${code}`}${why ? `: ${why}` : ''}`,
    );
    // the SSH client may not be listening yet (the command can fail before it connects): keep the
    // error until it does
    if (sock.listenerCount('error') > 0) sock.destroy(err);
    else
      sock.on('newListener', function later(event: string | symbol) {
        if (event !== 'error') return;
        sock.off('newListener', later);
        process.nextTick(() => sock.destroy(err));
      });
  });
  return new Promise((resolve, reject) => {
    child.once('error', (e) =>
      reject(new TransportError(label, 'unreachable', `ProxyCommand could not be started: ${e.message}`)),
    );
    child.once('spawn', () => resolve(sock));
  });
}
