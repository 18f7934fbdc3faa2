/**
 * Which lab this process works on. The default lab (no DPVS_LAB_INSTANCE) is the one the README and
 * inventories/lab.yaml describe: namespaces dd-*, subnet 10.241.0.0/16, state in .lab. Another
 * instance (DPVS_LAB_INSTANCE=<name>, 1 to 6 lower-case letters or digits) has its own names, subnet
 * and state, so two labs run side by side and neither's `down` touches the other's:
 *
 *   name   namespaces / uplink / nft table   subnet           state
 *   (none) dd-h-lb1, dd-lab, dd-up0, dd-lab  10.241.0.0/16    .lab,   inventories/lab.yaml
 *   2      dd2-h-lb1, dd2-lab, dd2-up0, ...  10.243.0.0/16    .lab-2, .lab-2/inventory.yaml
 *   ci     ddci-h-lb1, ...                   10.24x.0.0/16    .lab-ci
 *
 * A prefix never starts with another's ("dd-" vs "dd2-": the dash ends the name), so `down` of one,
 * which takes every namespace with its prefix, cannot take another's. The second octet is 241 + N for
 * N in 1..13, else 242 + a hash of the name mod 13 (`up` refuses a subnet another lab already routes).
 */
const raw = process.env.DPVS_LAB_INSTANCE ?? '';
if (!/^[a-z0-9]{0,6}$/.test(raw))
  throw new Error(
    `DPVS_LAB_INSTANCE must be 1 to 6 lower-case letters or digits, not ${JSON.stringify(raw)}`,
  );

export const LAB_INSTANCE = raw;

/** Namespace, interface and table names start with this. */
export const NAME_PREFIX = raw ? `dd${raw}-` : 'dd-';

function octet(name: string): number {
  if (!name) return 241;
  if (/^[0-9]+$/.test(name) && Number(name) >= 1 && Number(name) <= 13) return 241 + Number(name);
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 9973;
  return 242 + (h % 13);
}

/** The second octet of the lab's 10.x.0.0/16. */
export const SUBNET_OCTET = octet(raw);

/** The state directory under the repository: .lab or .lab-<name>. */
export const STATE_DIR = raw ? `.lab-${raw}` : '.lab';
