/**
 * The running kernel's declaration of tcp_v4_syn_recv_sock, which toa.ko calls, from its build tree's
 * include/net/tcp.h, joined on one line; null when the headers are not installed.
 *
 *   'struct sock *tcp_v4_syn_recv_sock(const struct sock *sk, struct sk_buff *skb, ...);'
 *
 * One awk over the header (an argv: the program is awk's, not the shell's), only where the header is.
 */
import { z } from 'zod';
import { kernelPath } from '../types.js';
import { factReader } from '../read.js';

export const TCP_SYN_RECV_KEY = 'kernel-tcp-v4-syn-recv-sock';
export const TCP_H = kernelPath('/lib/modules/', '/build/include/net/tcp.h');
/** From the line that opens the declaration to the line that closes it, printed as one line. */
export const TCP_SYN_RECV_AWK =
  '/tcp_v4_syn_recv_sock\\(/ { p = 1 } p { s = s " " $0 } p && /\\);/ { print s; exit }';

export const tcpSynRecv = factReader<string | null>({
  name: "kernel headers' tcp_v4_syn_recv_sock declaration",
  keys: [TCP_SYN_RECV_KEY],
  schema: z.string().min(1).nullable(),
  request: () => ({
    execs: {
      [TCP_SYN_RECV_KEY]: {
        argv: ['awk', TCP_SYN_RECV_AWK, TCP_H],
        onlyIf: TCP_H,
        otherwise: { code: 0, stdout: '' },
        stderr: false,
      },
    },
  }),
  parse: (raw) => (raw(TCP_SYN_RECV_KEY)?.stdout ?? '').trim() || null,
});
