/**
 * The inventory reference (docs/inventory.md), generated from the published JSON Schema: every key
 * with its type, default, description and an example, plus how defaults, groups and hosts merge.
 * scripts/gen-inventory-docs.ts writes it; a test fails when the checked-in file is stale.
 */
import { supportedPairingsText, DEFAULT_DPVS_VERSION } from '../versions.js';
import { SEMANTIC_CHECKS } from './checks-doc.js';
import { inventoryJsonSchema } from './schema.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  pattern?: string;
  $ref?: string;
}

/** Examples by key name where the type alone says too little. */
const EXAMPLES: Record<string, string> = {
  address: '10.0.0.11',
  user: 'root',
  identity_file: 'keys/id_ed25519',
  known_hosts: 'keys/known_hosts',
  jump_host: 'admin@bastion.example.net:22',
  sudo_password: '{env: SUDO_PASSWORD}',
  auth_pass: '{file: secrets/vrrp.pass}',
  version: '"20.11.10"',
  url: 'https://fast.dpdk.org/rel/dpdk-20.11.10.tar.xz',
  sha256: '"<64 hex digits>"',
  file: 'tarballs/dpdk-20.11.10.tar.xz',
  git: 'https://github.com/iqiyi/dpvs.git',
  ref: 'v1.9.10',
  patches: '[patches/0001-fix.patch]',
  march: 'x86-64',
  build_dir: '/opt/build',
  prefix: '/opt/dpvs',
  config_path: '/etc/dpvs.conf',
  log_file: '/var/log/dpvs.log',
  mount: '/dev/hugepages',
  per_node: "8192, or {'0': 8192, '1': 4096}",
  pci: "'0000:04:00.0'",
  mac: "'52:54:00:12:34:56'",
  ifname: 'ens4',
  name: 'dpdk0',
  kni_name: 'dpdk0.kni',
  dev: 'dpdk0',
  interface: 'dpdk0',
  vip_dev: 'dpdk1',
  iif: 'dpdk0',
  oif: 'dpdk1',
  via: '10.0.96.254',
  src: '10.0.96.204',
  kni_address: '192.168.100.2/24',
  router_id: 'lb1',
  vrrp_instance: 'VI_1',
  vip: '10.0.96.204',
  balancers: '[lb1, lb2]',
  hosts: '[lb1, lb2]',
  roles: '[balancer]',
  nics: '[{name: dpdk0, match: {pci: "0000:04:00.0"}}]',
  reserved_cpus: '[0]',
  master: '0',
  cpu: '1',
  rx: '[0]',
  tx: '[0]',
  id: 'HW-001',
  reason: 'VM without SMT',
  src_range: '192.168.100.0-192.168.100.254',
  dst_range: '10.0.0.1-10.0.0.9',
  path: '/healthz',
  serial: '1, or "25%"',
  workers: 'auto',
};

interface Row {
  key: string;
  type: string;
  required: boolean;
  def: string;
  description: string;
  example: string;
}

interface Section {
  title: string;
  path: string;
  intro?: string;
  rows: Row[];
}

function resolve(root: JsonSchema, s: JsonSchema): JsonSchema {
  if (s.$ref) {
    const name = s.$ref.replace(/^#\/\$defs\//, '');
    const defs = (root as { $defs?: Record<string, JsonSchema> }).$defs ?? {};
    const target = defs[name];
    if (target) return { ...target, description: s.description ?? target.description };
  }
  return s;
}

function isObject(s: JsonSchema): boolean {
  return s.type === 'object' && s.properties !== undefined;
}

function typeText(root: JsonSchema, raw: JsonSchema): string {
  const s = resolve(root, raw);
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return `one of ${s.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return [...new Set(alts.map((a) => typeText(root, a)))].join(' or ');
  switch (s.type) {
    case 'integer':
    case 'number': {
      const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? `>${s.exclusiveMinimum}` : undefined);
      const max = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : undefined;
      const range =
        lo !== undefined && max !== undefined
          ? ` ${lo}–${max}`
          : lo !== undefined
            ? ` ≥ ${lo}`.replace('≥ >', '> ')
            : max !== undefined
              ? ` ≤ ${max}`
              : '';
      return `${s.type}${range}`;
    }
    case 'array':
      return s.items
        ? `list of ${typeText(root, s.items)}${s.minItems ? ` (at least ${s.minItems})` : ''}`
        : 'list';
    case 'object':
      if (s.properties) return 'mapping';
      if (typeof s.additionalProperties === 'object')
        return `mapping name → ${typeText(root, s.additionalProperties)}`;
      return 'mapping';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    default:
      return String(s.type ?? 'any');
  }
}

function defaultOf(description: string): string {
  const m = /\(default:? ([^)]+)\)/.exec(description) ?? /\bdefault:? ([^;,)]+)/.exec(description);
  return m?.[1]?.trim() ?? '';
}

/** Examples by path (host settings without their defaults/groups/hosts prefix), before EXAMPLES by key. */
const EXAMPLES_BY_PATH: Record<string, string> = {
  version: '1',
  defaults: '(see below)',
  groups: '(see below)',
  hosts: '(see below)',
  services: '(see below)',
  rollout: '(see below)',
  'dpvs.version': '"1.9.10"',
  'dpdk.version': '"20.11.10"',
  'routes[].prefix': '192.168.229.0/24',
  'addresses[].address': '10.0.96.204/32',
  'services[].local_addresses': '{lb1: [{address: 192.168.229.204, dev: dpdk0}]}',
  'workers.slaves': '[{cpu: 1, ports: {dpdk0: {rx: [0], tx: [0]}}}]',
  'workers.slaves[].ports': '{dpdk0: {rx: [0], tx: [0]}}',
  'hugepages.size': '1G',
};

function exampleOf(
  root: JsonSchema,
  key: string,
  raw: JsonSchema,
  description: string,
  parentPath: string,
): string {
  const s = resolve(root, raw);
  const byPath = EXAMPLES_BY_PATH[parentPath ? `${parentPath}.${key}` : key];
  if (byPath) return byPath;
  const named = EXAMPLES[key];
  if (named) return named;
  const eg = /(?:e\.g\.|such as) ([^;,)]+)/.exec(description);
  if (eg?.[1]) return eg[1].trim();
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return String(s.enum[0]);
  if (s.type === 'boolean') return 'true';
  if (s.type === 'integer' || s.type === 'number')
    return String(s.minimum && s.minimum > 0 ? s.minimum : (s.maximum ?? 1));
  if (isObject(s)) return '(see below)';
  const alts = s.anyOf ?? s.oneOf;
  if (alts?.[0]) return exampleOf(root, key, alts[0], '', parentPath);
  if (s.type === 'array' && s.items) return `[${exampleOf(root, key, s.items, '', parentPath)}]`;
  return '';
}

function esc(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Collects one section per object, depth first, in schema order. */
function collect(
  root: JsonSchema,
  obj: JsonSchema,
  path: string,
  title: string,
  out: Section[],
  intro?: string,
): void {
  const rows: Row[] = [];
  const sub: Array<() => void> = [];
  const required = new Set(obj.required ?? []);
  for (const [key, raw] of Object.entries(obj.properties ?? {})) {
    const s = resolve(root, raw);
    const keyPath = path ? `${path}.${key}` : key;
    // descriptions live in the zod schema (src/inventory/schema.ts); a test requires one for every key
    const description = s.description ?? raw.description ?? '';
    rows.push({
      key,
      type: typeText(root, raw),
      required: required.has(key),
      def: defaultOf(description),
      description,
      example: exampleOf(
        root,
        key,
        raw,
        description,
        path.replace(/^(defaults|groups\.<name>\.vars|hosts\.<name>)\.?/, ''),
      ),
    });
    // Nested objects get their own section.
    const objects: Array<[JsonSchema, string, string]> = [];
    const alts = s.anyOf ?? s.oneOf;
    if (isObject(s)) objects.push([s, keyPath, `\`${keyPath}\``]);
    else if (s.type === 'array' && s.items && isObject(resolve(root, s.items))) {
      objects.push([resolve(root, s.items), `${keyPath}[]`, `\`${keyPath}[]\` (each item)`]);
    } else if (s.type === 'object' && typeof s.additionalProperties === 'object') {
      const v = resolve(root, s.additionalProperties);
      if (isObject(v)) objects.push([v, `${keyPath}.<name>`, `\`${keyPath}.<name>\``]);
      else if (v.type === 'array' && v.items && isObject(resolve(root, v.items))) {
        objects.push([resolve(root, v.items), `${keyPath}.<name>[]`, `\`${keyPath}.<name>[]\` (each item)`]);
      } else if (v.type === 'object' && typeof v.additionalProperties !== 'object' && v.properties) {
        objects.push([v, `${keyPath}.<name>`, `\`${keyPath}.<name>\``]);
      }
    } else if (alts) {
      alts
        .map((a) => resolve(root, a))
        .filter(isObject)
        .forEach((a, i, all) => {
          const first = Object.keys(a.properties ?? {})[0] ?? String(i);
          objects.push([
            a,
            keyPath,
            all.length > 1 ? `\`${keyPath}\` ({${first}: …} form)` : `\`${keyPath}\``,
          ]);
        });
    }
    for (const [o, p, t] of objects) sub.push(() => collect(root, o, p, t, out));
  }
  out.push({ title, path, intro, rows });
  for (const f of sub) f();
}

const HOST_SETTINGS_PREFIX = /^(defaults|groups\.<name>\.vars)(\.|$)/;

export function renderInventoryDocs(): string {
  const root = inventoryJsonSchema() as JsonSchema;
  const sections: Section[] = [];
  collect(root, root, '', 'Top level', sections);
  // Host settings appear under defaults, group vars and hosts: document them once (under hosts.<name>).
  const shown = sections.filter((s) => !HOST_SETTINGS_PREFIX.test(s.path) || s.path === 'groups.<name>');
  const lines: string[] = [
    '<!-- Generated by scripts/gen-inventory-docs.ts from src/inventory/schema.ts. Do not edit by hand: run `npm run gen:docs`. -->',
    '',
    '# Inventory reference',
    '',
    'An inventory is one YAML document describing the fleet: hosts (balancers, real servers, clients), the',
    'settings each host gets, and the load-balancing services. `dpvs-deploy validate INVENTORY` checks it and',
    'prints every problem as `FILE:LINE:COL: path: message`. Editors validate and complete it through',
    'yaml-language-server when the file starts with:',
    '',
    '```yaml',
    '# yaml-language-server: $schema=<relative path to>/schemas/inventory.schema.json',
    '```',
    '',
    '## How values merge',
    '',
    'Every host is resolved from up to three layers, lowest priority first:',
    '',
    '1. `defaults` — applied to every host;',
    '2. `groups.<name>.vars` — for each group listing the host, in the order the groups appear in the file',
    '   (a later group overrides an earlier one);',
    '3. the host’s own entry under `hosts.<name>`.',
    '',
    'Mappings merge key by key, recursively: `defaults: {dpvs: {version: 1.9.10}}` and a host’s',
    '`dpvs: {log_level: DEBUG}` give the host both. Lists and scalars replace: a host’s `nics` list replaces',
    'the group’s list entirely, and so does a `source` mapping (a host’s `{url, sha256}` replaces a group’s',
    '`{file}`). The settings allowed in all three places are the same (the host settings',
    'below); only a host entry has `address` and `roles`.',
    '',
    '## Versions',
    '',
    `Supported pairings: ${supportedPairingsText()}. Without \`dpvs.version\` DPVS ${DEFAULT_DPVS_VERSION} is`,
    'used; without `dpdk.version` the DPDK paired with the DPVS version. Write versions as quoted strings:',
    'YAML reads `24.11` as a number. `dpdk.driver: igb_uio` works with every pairing: for DPDK 18.11 the',
    'module comes from the DPDK build, for 20.11 and 24.11 from dpdk-kmods: set `dpdk.kmods` to its source',
    '(`bash scripts/fetch-dpdk-src.sh kmods` makes one from Debian’s dpdk-kmods-dkms) and the DPDK build',
    'compiles it against the kernel headers (the running kernel’s, or those `-Dkernel_dir` names), part of',
    'its build stamp; `dpdk.igb_uio` sets intr_mode and wc_activate. Refused by kernels in lockdown, which',
    'preflight reports.',
    '',
    '## Who adds which address on a balancer',
    '',
    '- **VIPs** (`services[].vip`): without keepalived, dpvs-deploy adds each VIP as /32 (/128) on the',
    '  service’s `vip_dev` with `dpip addr add` (unless `addresses` lists it already). With `keepalived`',
    '  enabled on the host, the VIPs are keepalived’s `virtual_ipaddress`: VRRP adds them on the MASTER only',
    '  (on the port of `vip_dev`, the `dpdk_interface` of their vrrp_instance; docs/dpvs-series.md)',
    '  and takes them away on failover, and dpvs-deploy never adds or deletes them. An SNAT service’s WAN',
    '  address (its `vip`) is always added by dpvs-deploy, with `sapool`.',
    '- **Local addresses** (`services[].local_addresses`, FullNAT): added with `ipvsadm --add-laddr`, which',
    '  sets up their sapool itself; they need no entry in `addresses`.',
    '- **`addresses`**: the host’s own addresses on DPDK ports that no service implies, e.g. the LAN address',
    '  a DR service needs on its `vip_dev` before the VIP, or a next hop’s subnet.',
    '- **Real servers** build `toa.ko` (and `uoa.ko`) from the kmod/ sources of DPVS: set `dpvs.source` on',
    '  them as on the balancers (`file:` pushes a tarball from the control machine). Without it the real',
    '  server clones https://github.com/iqiyi/dpvs at the tag of `dpvs.version`, which needs Internet access',
    '  from the real server.',
    '',
    '## Checks beyond the types',
    '',
    '`validate` checks the relations between values offline, before anything runs; each finding is',
    '`FILE:LINE:COL: path: message` at the value at fault, names the value it conflicts with as',
    '`[other value: PATH at FILE:LINE:COL]`, and says the fix. What needs the host’s facts (memory, NIC',
    'queues, which NIC carries SSH) is checked by preflight at plan time (docs/preflight.md).',
    '',
    '| Check | Why it matters on a real host | Fix |',
    '|---|---|---|',
    ...SEMANTIC_CHECKS.map((c) => `| ${esc(c.check)} | ${esc(c.why)} | ${esc(c.fix)} |`),
    '',
    'Limits: files over 1 MiB, nesting deeper than 64 levels, more than 100 alias uses per anchor, invalid',
    'UTF-8 and control characters are refused.',
    '',
  ];
  for (const s of shown) {
    const title =
      s.path.startsWith('hosts.<name>') && s.path !== 'hosts.<name>'
        ? s.title.replace('hosts.<name>.', '')
        : s.title;
    lines.push(`## ${title}`, '');
    if (s.path === 'hosts.<name>') {
      lines.push(
        'A host entry: `address` and `roles`, plus the host settings, which are also allowed in `defaults` and',
        '`groups.<name>.vars`. Sections below named without a prefix (e.g. `ssh`, `nics[]`) are host settings.',
        '',
      );
    }
    lines.push('| Key | Type | Required | Default | Description | Example |', '|---|---|---|---|---|---|');
    for (const r of s.rows) {
      lines.push(
        `| \`${r.key}\` | ${esc(r.type)} | ${r.required ? 'yes' : ''} | ${esc(r.def)} | ${esc(r.description)} | ${r.example ? `\`${esc(r.example)}\`` : ''} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** Every documented key with an empty description (the docs test requires none). */
export function undocumentedKeys(): string[] {
  const root = inventoryJsonSchema() as JsonSchema;
  const sections: Section[] = [];
  collect(root, root, '', 'Top level', sections);
  return sections.flatMap((s) =>
    s.rows.filter((r) => !r.description).map((r) => (s.path ? `${s.path}.${r.key}` : r.key)),
  );
}
