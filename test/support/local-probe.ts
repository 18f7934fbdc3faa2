/**
 * The probe run on this machine (POSIX sh, Linux): a request's reads as the host would answer them,
 * through the real probe script and parser. For tests of the typed readers' requests.
 */
import { execFileSync } from 'node:child_process';
import { mergeRequests, parseProbeOutput, probeScript } from '../../src/facts/probe.js';
import type { Facts, ProbeRequest } from '../../src/facts/types.js';

export function probeLocally(...requests: ProbeRequest[]): Facts {
  const req = mergeRequests(requests);
  return parseProbeOutput(execFileSync('sh', ['-s'], { input: probeScript(req) }).toString(), req);
}
