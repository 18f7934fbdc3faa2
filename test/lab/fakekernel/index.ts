/** The lab's fake kernel and fake host tools: the contract test/lab/lab.ts uses. */
export { writeHostTree } from './tree.js';
export { startFakeKernel, type FakeKernelHandle } from './daemon.js';
export { hostMounts, MOUNT_SYMLINK_HELPER, type HostMount } from './mounts.js';
export { installHostBin } from './hostbin.js';
