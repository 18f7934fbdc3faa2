/**
 * What the three contenders run against the same N lab balancers:
 *  - the inventory dpvs-deploy plans/applies (the lab's, balancers only, the lab's fixture sources,
 *    no keepalived: not under test, it needs a pair);
 *  - the probe script dpvs-deploy would run on each host (src/facts/probe.ts, built from the same
 *    requests the engine merges), for Ansible and the OpenSSH floor;
 *  - Ansible's config, inventory and playbook; the floor's shell driver.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { mergeRequests, probeScript } from '../src/facts/probe.js';
import { loadInventory } from '../src/inventory/load.js';
import type { Inventory } from '../src/inventory/schema.js';
import { preflightProbe } from '../src/preflight/index.js';
import { tasksForRoles } from '../src/run/playbooks.js';
import { labInventory } from '../test/lab/inventory.js';
import { FIXTURES_URL } from '../test/lab/lab.js';
import type { LabPaths } from '../test/lab/paths.js';
import type { LabHostProfile } from '../test/lab/profile-types.js';

interface Artifact {
  name: string;
  kind: string;
  version: string;
  sha256: string;
}

function fixture(www: string, kind: string, version: string): { url: string; sha256: string } {
  const m = JSON.parse(readFileSync(join(www, 'manifest.json'), 'utf8')) as { artifacts: Artifact[] };
  const a = m.artifacts.find((x) => x.kind === kind && x.version === version);
  if (!a) throw new Error(`no ${kind} ${version} fixture in the lab manifest`);
  return { url: `${FIXTURES_URL}${a.name}`, sha256: a.sha256 };
}

/** The lab inventory for the balancers of `profiles`, with the lab's fixture sources; written to `file`. */
export function writeBenchInventory(file: string, profiles: LabHostProfile[], paths: LabPaths): void {
  const balancers = profiles.filter((p) => p.roles.includes('balancer'));
  const inv: Inventory = labInventory(balancers, {
    inventoryFile: file,
    identity: paths.identity,
    knownHosts: paths.knownHosts,
  });
  const groups = inv.groups ?? {};
  for (const g of Object.keys(groups)) if ((groups[g]?.hosts ?? []).length === 0) delete groups[g];
  const dpdk = fixture(paths.www, 'dpdk', '20.11.10');
  const dpvs = fixture(paths.www, 'dpvs', '1.9.10');
  for (const h of Object.values(inv.hosts)) {
    delete h.keepalived;
    h.dpdk = { version: '20.11.10', driver: 'uio_pci_generic', source: { ...dpdk } };
    // 65535 mbufs fit the lab's 512 x 2 MB pages per node
    h.dpvs = { version: '1.9.10', source: { ...dpvs }, pktpool_size: 65535, start_timeout_s: 90 };
    h.nics = (h.nics ?? []).map((n) => ({ ...n, rx: { queues: 1 }, tx: { queues: 1 } }));
  }
  writeFileSync(
    file,
    '# dpvs-deploy benchmark inventory (bench/targets.ts): the lab balancers, fixture sources\n' +
      stringify(inv, { lineWidth: 0 }),
  );
}

/** The probe script dpvs-deploy runs on each host of `inventoryFile`, written to dir/<host>.sh. */
export async function writeProbeScripts(inventoryFile: string, dir: string): Promise<string[]> {
  const inv = await loadInventory(inventoryFile);
  mkdirSync(dir, { recursive: true });
  for (const h of inv.hosts) {
    const tasks = tasksForRoles(h.roles);
    const req = mergeRequests([preflightProbe(h, inv), ...tasks.map((t) => t.probe?.(h, inv) ?? {})]);
    writeFileSync(join(dir, `${h.name}.sh`), probeScript(req) + '\n');
  }
  return inv.hosts.map((h) => h.name);
}

/**
 * Ansible, tuned as its docs advise for speed: forks = hosts, pipelining (one ssh exec per module),
 * no fact gathering, no interpreter discovery, SSH multiplexing off (one task per host: nothing to
 * share, and a persisted master would carry a connection over to the next run).
 */
export function writeAnsible(dir: string, hosts: ReadonlyArray<string>, paths: LabPaths): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'ansible.cfg'),
    [
      '[defaults]',
      `inventory = ${join(dir, 'hosts.ini')}`,
      `forks = ${hosts.length}`,
      'gathering = explicit',
      'interpreter_python = /usr/bin/python3',
      'host_key_checking = True',
      'retry_files_enabled = False',
      `local_tmp = ${join(dir, 'tmp')}`,
      'timeout = 60',
      '',
      '[ssh_connection]',
      'pipelining = True',
      `ssh_args = -F ${paths.sshConfig} -o ControlMaster=no`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'hosts.ini'), ['[balancers]', ...hosts, ''].join('\n'));
  writeFileSync(
    join(dir, 'probe.yaml'),
    `# Reads the same facts as dpvs-deploy's plan: the same probe script, one command per host.
- hosts: all
  gather_facts: false
  tasks:
    - name: probe (dpvs-deploy's probe script, src/facts/probe.ts)
      ansible.builtin.command:
        argv: [sh, -s]
        stdin: "{{ lookup('ansible.builtin.file', '${join(dir, '..', 'probes')}/' ~ inventory_hostname ~ '.sh') }}"
      register: probe
      changed_when: false
    - name: the probe read everything
      ansible.builtin.assert:
        that: ["'@@dpvs-deploy-section@@ end' in probe.stdout"]
        quiet: true
`,
  );
  writeFileSync(
    join(dir, 'true.yaml'),
    `# The same play shape with a trivial command: SSH and Ansible's own cost, no probe.
- hosts: all
  gather_facts: false
  tasks:
    - name: true
      ansible.builtin.command:
        argv: ['true']
      changed_when: false
`,
  );
}

/**
 * The floor: plain OpenSSH, one connection per host, all in parallel, each running the probe script
 * (`probe`), or `true` (the SSH cost alone).
 */
export function writeFloor(
  dir: string,
  hosts: ReadonlyArray<string>,
  paths: LabPaths,
  probe: boolean,
): string {
  mkdirSync(join(dir, 'out'), { recursive: true });
  const file = join(dir, probe ? 'floor.sh' : 'floor-true.sh');
  const run = probe ? 'sh -s <"../probes/$h.sh"' : 'true </dev/null';
  const check = probe
    ? `for h in ${hosts.join(' ')}; do grep -q '^@@dpvs-deploy-section@@ end' "out/$h.out" || fail=$((fail + 1)); done\n`
    : '';
  writeFileSync(
    file,
    `#!/bin/bash
# One ssh per host, in parallel, each running dpvs-deploy's probe script for that host; exit = failures.
cd ${JSON.stringify(dir)}
pids=()
for h in ${hosts.join(' ')}; do
  ssh -F ${JSON.stringify(paths.sshConfig)} "$h" ${run} >"out/$h.out" 2>"out/$h.err" &
  pids+=($!)
done
fail=0
for p in "\${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
${check}exit $fail
`,
    { mode: 0o755 },
  );
  return file;
}
