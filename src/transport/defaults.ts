/** SSH defaults the inventory docs quote (one place: the docs are generated from these). */

/** Seconds to wait for the SSH connection when neither ssh.connect_timeout_s nor ssh_config ConnectTimeout says. */
export const DEFAULT_CONNECT_TIMEOUT_S = 10;
