/**
 * Defaults the inventory documents (docs/inventory.md is generated from these) and the code that
 * applies them imports: one place for each value.
 */

/** Seconds to wait for the SSH connection when neither ssh.connect_timeout_s nor ssh_config ConnectTimeout says. */
export const DEFAULT_CONNECT_TIMEOUT_S = 10;

/** dpvs.pktpool_size when the inventory says nothing (upstream's dpvs.conf samples: 524287 mbufs). */
export const DEFAULT_PKTPOOL_SIZE = 524287;
/** dpvs.conn_pool_size when the inventory says nothing (upstream's samples: 2097152). */
export const DEFAULT_CONN_POOL_SIZE = 2097152;
