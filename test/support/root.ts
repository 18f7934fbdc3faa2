/** The one check for suites that need this machine's root (namespaces, sshd, mounts): Linux and uid 0. */
export const asRoot: boolean = process.platform === 'linux' && process.getuid?.() === 0;
