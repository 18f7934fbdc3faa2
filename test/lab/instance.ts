/**
 * Which lab this process works on. The default lab (no DPVS_LAB_INSTANCE) is the one the README and
 * inventories/lab.yaml describe: namespaces dd-*, subnet 10.241.0.0/16, state in .lab. Another
 * instance (DPVS_LAB_INSTANCE=<name>, 1 to 6 lower-case letters or digits) has its own names, subnet
 * and state, so two labs run side by side and neither's `down` touches the other's:
 *
 *   name   namespaces / uplink / nft table   subnet                      state
 *   (none) dd-h-lb1, dd-lab, dd-up0, dd-lab  10.241.0.0/16               .lab,   inventories/lab.yaml
 *   2      dd2-h-lb1, dd2-lab, dd2-up0, ...  10.243.0.0/16 (241 + N)     .lab-2, .lab-2/inventory.yaml
 *   ci     ddci-h-lb1, ...                   10.2xx.0.0/16, 200 to 240   .lab-ci
 *
 * A prefix never starts with another's ("dd-" vs "dd2-": the dash ends the name), so `down` of one,
 * which takes every namespace with its prefix, cannot take another's.
 *
 * The second octet: 241 for the default lab; 241 + N for N in 1..13 (fixed, nobody else gets them);
 * any other name gets one of 200..240 from an allocation record shared by every process on this
 * machine (ALLOCATION_DIR, one file per octet holding the name), so two names never share a /16 and
 * two processes starting labs at once cannot take the same one: a record is created whole with
 * link(2), which fails when the octet is taken, and every process of a name walks the same octets in
 * the same order (from a hash of the name), so it either creates the record or finds its own name in
 * it. A name keeps its octet for as long as its record stays (until reboot: /run is a tmpfs). `up`
 * still refuses a /16 that something else already routes.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

const raw = process.env.DPVS_LAB_INSTANCE ?? '';
if (!/^[a-z0-9]{0,6}$/.test(raw))
  throw new Error(
    `DPVS_LAB_INSTANCE must be 1 to 6 lower-case letters or digits, not ${JSON.stringify(raw)}`,
  );

export const LAB_INSTANCE = raw;

/** Namespace, interface and table names of an instance start with this. */
export function namePrefix(name: string): string {
  return name ? `dd${name}-` : 'dd-';
}
export const NAME_PREFIX = namePrefix(raw);

/** The default lab's second octet (README, inventories/lab.yaml, docs). */
export const DEFAULT_OCTET = 241;
/** Octets handed out by the allocation record: names, and numbers outside 1..13. */
export const POOL_FIRST = 200;
export const POOL_LAST = 240;
/** Where the allocation record lives: shared by every checkout on the machine, gone at reboot. */
export const ALLOCATION_DIR = process.env.DPVS_LAB_ALLOCATION_DIR || '/run/dpvs-lab/subnets';
/** A record older than this whose lab is not up may be taken back when every octet is taken. */
const STALE_MS = 24 * 3600_000;

/** The octet a name always has without a record: the default's and 1..13's, else null. */
export function fixedOctet(name: string): number | null {
  if (!name) return DEFAULT_OCTET;
  if (/^[0-9]+$/.test(name) && Number(name) >= 1 && Number(name) <= 13) return DEFAULT_OCTET + Number(name);
  return null;
}

/** The order a name tries the pool's octets in: from a hash of the name, then round the pool. */
export function poolOrder(name: string): number[] {
  const size = POOL_LAST - POOL_FIRST + 1;
  const start = createHash('sha256').update(name).digest().readUInt32BE(0) % size;
  return Array.from({ length: size }, (_, i) => POOL_FIRST + ((start + i) % size));
}

const recordFile = (dir: string, octet: number): string => join(dir, `10.${octet}`);

function readRecord(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The octet of `name` (not a fixed one) in the record under `dir`: its own record if it has one, else
 * the first free octet of its order, taken by linking a complete record file into place.
 * `isUp(name)` says whether a lab of that name is up (a stale record of a lab that is not up may be
 * taken back when the pool is full).
 */
export function allocateOctet(
  name: string,
  dir: string = ALLOCATION_DIR,
  isUp: (name: string) => boolean = labIsUp,
): number {
  if (fixedOctet(name) !== null) throw new Error(`instance ${name} has a fixed octet`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new Error(
      `DPVS_LAB_INSTANCE=${name}: cannot create the lab subnet record ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)}); the lab runs as root, or set DPVS_LAB_ALLOCATION_DIR to a directory every lab on this machine uses`,
    );
  }
  const order = poolOrder(name);
  const own = order.find((o) => readRecord(recordFile(dir, o)) === name);
  if (own !== undefined) {
    touch(recordFile(dir, own));
    return own;
  }
  const tmp = join(dir, `.${name}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  writeFileSync(tmp, `${name}\n`);
  try {
    for (let pass = 0; pass < 2; pass++) {
      for (const o of order) {
        const file = recordFile(dir, o);
        try {
          linkSync(tmp, file);
          return o;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        // taken: by another process of this name (then it is ours too), or by another name
        if (readRecord(file) === name) return o;
      }
      if (pass === 0 && !reclaimStale(dir, isUp)) break;
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  throw new Error(
    `DPVS_LAB_INSTANCE=${name}: all ${POOL_LAST - POOL_FIRST + 1} lab subnets 10.${POOL_FIRST}-${POOL_LAST}.0.0/16 are taken (${dir}); take a lab down and remove its record there, or use a number 1..13`,
  );
}

function touch(file: string): void {
  const now = new Date();
  try {
    utimesSync(file, now, now);
  } catch {
    // read-only or gone: the record still says what it says
  }
}

/** Removes records older than STALE_MS whose lab is not up; true when one went. */
function reclaimStale(dir: string, isUp: (name: string) => boolean): boolean {
  let freed = false;
  for (const f of readdirSync(dir)) {
    if (!/^10\.\d+$/.test(f)) continue;
    const file = join(dir, f);
    const owner = readRecord(file);
    let age = 0;
    try {
      age = Date.now() - statSync(file).mtimeMs;
    } catch {
      continue;
    }
    if (owner !== null && age > STALE_MS && !isUp(owner)) {
      rmSync(file, { force: true });
      freed = true;
    }
  }
  return freed;
}

/** A lab of that name is up: its lab namespace exists (test/lab/net.ts names it <prefix>lab). */
function labIsUp(name: string): boolean {
  return existsSync(`/run/netns/${namePrefix(name)}lab`);
}

/** The second octet of an instance's 10.x.0.0/16. */
export function instanceOctet(name: string): number {
  return fixedOctet(name) ?? allocateOctet(name);
}

/** The second octet of this process's lab's 10.x.0.0/16. */
export const SUBNET_OCTET = instanceOctet(raw);

/** The state directory of an instance under the repository: .lab or .lab-<name>. */
export function stateDir(name: string): string {
  return name ? `.lab-${name}` : '.lab';
}
export const STATE_DIR = stateDir(raw);
