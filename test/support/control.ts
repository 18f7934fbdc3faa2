/**
 * Control-side inputs for planner tests that build inventories by hand: read on demand with the same
 * readers the loader uses (src/inventory/control-read.ts), so a test can create a local tarball or
 * patch after building its inventory. The loader reads them once, up front; planners only look them up.
 */
import type { ControlInputs, ControlSide, LocalFile } from '../../src/inventory/control.js';
import { readLocalFile, tarballSeries } from '../../src/inventory/control-read.js';

class OnDemand<V> extends Map<string, V> {
  constructor(private readonly read: (key: string) => V | undefined) {
    super();
  }
  override get(key: string): V | undefined {
    return this.read(key);
  }
}

export function liveControl(): ControlInputs {
  return {
    secrets: new Map(),
    files: new OnDemand<LocalFile>((abs) => readLocalFile(abs)),
    series: new OnDemand<string>((key) => {
      const [tarball = '', patchDir = ''] = key.split('\0');
      return tarballSeries(tarball).get(patchDir);
    }),
  };
}

/** A ControlSide for a directory, reading files on demand. */
export function onControl(dir: string): ControlSide {
  return { dir, control: liveControl() };
}
