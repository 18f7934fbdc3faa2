/** What the transport reports about each command it runs; the engine writes transcripts from it. */
export interface TranscriptEvent {
  /** Inventory name of the host. */
  host: string;
  kind: 'exec' | 'put' | 'get';
  /**
   * The command as the caller wrote it (without the sudo wrapper), or a summary for put/get such as
   * "put /etc/dpvs.conf (1234 bytes, mode 0644)". Never contains file contents or the sudo password.
   */
  command: string;
  /** Whether it ran through sudo. */
  sudo: boolean;
  stdout: string;
  stderr: string;
  code: number | null;
  signal?: string;
  durationMs: number;
  /** Set when the command did not finish (timeout). */
  error?: string;
}
