/** Unified diffs for file Changes (jsdiff). */
import { createTwoFilesPatch } from 'diff';

export function unifiedFileDiff(path: string, before: string | null | undefined, after: string): string {
  const patch = createTwoFilesPatch(
    before === null || before === undefined ? '/dev/null' : `a${path}`,
    `b${path}`,
    before ?? '',
    after,
    undefined,
    undefined,
    { context: 3 },
  );
  // drop jsdiff's "====" banner line
  return patch
    .split('\n')
    .filter((l) => !/^={5,}$/.test(l) && !/^Index: /.test(l))
    .join('\n')
    .trimEnd();
}
