/**
 * The guest's QEMU command line and process. Software emulation ONLY: `-accel tcg`, and QEMU runs in a
 * private mount namespace where /dev/null is bound over /dev/kvm, so it cannot open KVM even by
 * accident. Every NIC is user-mode networking with restrict=on: the guest reaches nothing outside;
 * the only way in is SSH forwarded on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';

/** MAC addresses of the guest's NICs (the image configures only MGMT_MAC). */
export const MGMT_MAC = '52:54:00:12:34:56';
export const E1000_MAC = '52:54:00:00:00:11';
export const VIRTIO_MAC = '52:54:00:00:00:12';

export interface QemuOptions {
  /** the kernel, initrd and command line the guest's own grub.cfg names (diskboot.ts) */
  kernel: string;
  initrd: string | null;
  append: string;
  overlay: string;
  pidFile: string;
  serialLog: string;
  monitor: string;
  sshPort: number;
  /** hard limit on the process (seconds), default 3600 */
  timeoutS?: number;
}

/** The argument vector of qemu-system-x86_64 (without the program name). Pure. */
export function qemuArgs(o: QemuOptions): string[] {
  return [
    ...['-accel', 'tcg,thread=multi,tb-size=256'],
    ...['-machine', 'q35', '-cpu', 'max', '-device', 'intel-iommu,intremap=on'],
    ...['-m', '2048', '-smp', '2,sockets=2,cores=1,threads=1'],
    ...['-object', 'memory-backend-ram,size=1G,id=m0', '-object', 'memory-backend-ram,size=1G,id=m1'],
    ...['-numa', 'node,nodeid=0,memdev=m0', '-numa', 'node,nodeid=1,memdev=m1'],
    ...['-numa', 'cpu,node-id=0,socket-id=0', '-numa', 'cpu,node-id=1,socket-id=1'],
    // One serial log across the boots of a run (append): the supervisor reads each boot's end from it.
    ...['-nographic', '-vga', 'none', '-chardev', `file,id=ser0,path=${o.serialLog},append=on`],
    ...['-serial', 'chardev:ser0'],
    ...['-monitor', `unix:${o.monitor},server,nowait`, '-pidfile', o.pidFile],
    // A guest reboot ends this QEMU; the supervisor (supervisor.ts) starts the next one with what the
    // guest's bootloader configuration then says, as firmware + GRUB would.
    '-no-reboot',
    ...['-kernel', o.kernel, ...(o.initrd ? ['-initrd', o.initrd] : [])],
    ...['-append', o.append],
    ...['-drive', `file=${o.overlay},if=none,id=d0,format=qcow2,cache=unsafe`],
    ...['-device', 'virtio-blk-pci,drive=d0'],
    // management NIC: SSH forwarded on 127.0.0.1 only
    ...['-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${o.sshPort}-:22`],
    ...['-device', `virtio-net-pci,netdev=n0,mac=${MGMT_MAC},romfile=`],
    // test NICs: links that lead nowhere
    ...['-netdev', 'user,id=n1,restrict=on', '-device', `e1000,netdev=n1,mac=${E1000_MAC},romfile=`],
    ...[
      '-netdev',
      'user,id=n2,restrict=on',
      '-device',
      `virtio-net-pci,netdev=n2,mac=${VIRTIO_MAC},romfile=`,
    ],
  ];
}

/**
 * The wrapper: unshare a private mount namespace, mask /dev/kvm with /dev/null (exit 99 if that
 * fails: no boot without the mask), then exec QEMU under `timeout`.
 */
export function wrapperArgv(args: string[], timeoutS: number): { cmd: string; args: string[] } {
  const script =
    'if [ -e /dev/kvm ]; then mount --bind /dev/null /dev/kvm || exit 99; fi; ' +
    'exec timeout "$0" qemu-system-x86_64 "$@"';
  return {
    cmd: 'unshare',
    args: ['-m', '--propagation', 'private', '/bin/sh', '-c', script, String(timeoutS), ...args],
  };
}

/** Starts the wrapped QEMU detached (its own session); QEMU writes its pid to o.pidFile. */
export function startQemu(o: QemuOptions, logFile: string): number {
  const w = wrapperArgv(qemuArgs(o), o.timeoutS ?? 3600);
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(w.cmd, w.args, { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new Error('could not start unshare/qemu-system-x86_64');
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => (port ? resolvePromise(port) : reject(new Error('no free port'))));
    });
  });
}
