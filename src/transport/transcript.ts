/** What the transport reports about each command it runs; the engine writes transcripts from it. */
import { octalMode } from './remote-put.js';

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

/** What a put's transcript shows instead of the content (never the content itself). */
export function putLabel(path: string, bytes: number, mode: number, owner?: string): string {
  return `put ${path} (${bytes} bytes, mode ${octalMode(mode)}${owner ? `, owner ${owner}` : ''})`;
}

/** The transcript record of a put that finished (`failure`: its message, on stderr, code 1). */
export function putEvent(label: string, start: number, failure?: string): Omit<TranscriptEvent, 'host'> {
  return {
    kind: 'put',
    command: label,
    sudo: false,
    stdout: '',
    stderr: failure ?? '',
    code: failure === undefined ? 0 : 1,
    durationMs: Date.now() - start,
  };
}
