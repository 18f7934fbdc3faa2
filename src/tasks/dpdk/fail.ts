/**
 * A step that stops the host with a message. Planners are pure and must not throw for one host's
 * problem (that would stop the whole run); they plan this step instead. The planner turns every such
 * step into a blocking INPUT-001 check, so `plan` exits 1 naming the problem and `apply` leaves the
 * host untouched (nothing half-done before the step) while the other hosts go on.
 */
import type { Step } from '../../plan/change.js';
import { sh } from '../../transport/quote.js';

export function failStep(message: string): Step {
  return { kind: 'exec', command: sh`printf '%s\n' ${message} >&2; exit 1`, problem: message };
}
