/** Inventory variants shared by several VM test files (never import a test file from another). */
import { vmSources } from './fixtures.js';
import { inventoryVariant } from './harness.js';

/** vm1 as a realserver with nothing but hugepages to do (the balancer's build tasks need sources). */
export function hugepagesOnly(): Promise<string> {
  return inventoryVariant('hugepages', (h) => {
    h.roles = ['realserver'];
    h.realserver = { toa: false, uoa: false };
    delete h.nics;
    delete h.workers; // a worker layout on a realserver is refused (dpvs does not run there)
  });
}

/** vm1 as a realserver with toa and uoa (uoa with parameters) from the VM's DPVS fixture tarball. */
export async function toaInventory(): Promise<string> {
  const src = await vmSources();
  return inventoryVariant('toa', (h) => {
    h.roles = ['realserver'];
    delete h.nics;
    delete h.workers; // a worker layout on a realserver is refused (dpvs does not run there)
    h.dpvs = { version: src.dpvs.version, source: { file: src.dpvs.file } };
    h.realserver = { toa: true, uoa: true, uoa_params: { uoa_debug: 1, uoa_map_timeout: 120 } };
  });
}
