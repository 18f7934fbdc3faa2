/**
 * Unified diff of two texts (what a plan shows for a file about to change on a host). Uses jsdiff.
 * Returns '' when the texts are equal.
 */
import { createTwoFilesPatch } from 'diff';

export interface DiffLabels {
  oldLabel: string;
  newLabel: string;
  /** Lines of context around each change (default 3). */
  context?: number;
}

export function unifiedDiff(oldText: string, newText: string, labels: DiffLabels): string {
  if (oldText === newText) return '';
  const patch = createTwoFilesPatch(
    labels.oldLabel,
    labels.newLabel,
    oldText,
    newText,
    undefined,
    undefined,
    {
      context: labels.context ?? 3,
    },
  );
  // jsdiff starts with an "Index:"-less "===" separator line only in createPatch; strip any leading
  // separator so the output begins with the ---/+++ header like diff -u.
  return patch.replace(/^=+\n/, '');
}
