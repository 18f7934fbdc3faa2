#!/usr/bin/env node
/**
 * npm run lab -- up [--balancers N --realservers M --inventory FILE] [--real-hugepages HOST]
 *                   [--kernel HOST=RELEASE]... [--without-headers HOST]... | down | status
 */
import { Command, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { down, status, up } from './lab.js';
import { buildFixtures } from './fixtures/build.js';
import { inventoryYaml, labInventory, writeInventory } from './inventory.js';
import { LAB_INSTANCE } from './instance.js';
import { labPaths } from './paths.js';
import { DEFAULT_SHAPE, labProfiles } from './profiles.js';

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 500)
    throw new InvalidArgumentError('expected a whole number 0..500');
  return n;
}

function kernelArg(v: string, prev: Record<string, string>): Record<string, string> {
  const m = /^([A-Za-z0-9_-]+)=([A-Za-z0-9._+-]+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected HOST=RELEASE, e.g. rs3=5.14.0-427.13.1.el9_4.x86_64');
  return { ...prev, [m[1] as string]: m[2] as string };
}

function hostList(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function defaultCommand(balancers?: number, realservers?: number): string {
  const extra = [
    ...(balancers !== undefined ? [`--balancers ${balancers}`] : []),
    ...(realservers !== undefined ? [`--realservers ${realservers}`] : []),
  ];
  return ['npm run lab -- inventory', ...extra].join(' ');
}

const program = new Command('lab').description('the local lab of SSH hosts (test/lab/README.md)');

program
  .command('up')
  .description('bring the lab up (a lab already up with the same shape is reused)')
  .option('--balancers <n>', 'balancers lb1..lbN', count)
  .option('--realservers <n>', 'realservers rs1..rsN', count)
  .option('--inventory <file>', 'write the matching inventory here')
  .option('--real-hugepages <host>', "this host's 2 MB hugepage counter is the machine's real one")
  .option('--kernel <host=release>', 'this host runs that kernel release (repeatable)', kernelArg, {})
  .option(
    '--without-headers <host>',
    "this host's kernel has no installable headers package (repeatable)",
    hostList,
    [],
  )
  .option('--no-fixtures', 'do not build the DPDK/DPVS fixture tarballs (plans that fetch nothing)')
  .action(
    async (o: {
      balancers?: number;
      realservers?: number;
      inventory?: string;
      realHugepages?: string;
      kernel: Record<string, string>;
      withoutHeaders: string[];
      fixtures: boolean;
    }) => {
      const paths = labPaths();
      const noHeaders = o.withoutHeaders;
      const shape = {
        balancers: o.balancers ?? DEFAULT_SHAPE.balancers,
        realservers: o.realservers ?? DEFAULT_SHAPE.realservers,
        ...(o.realHugepages !== undefined ? { realHugepages: o.realHugepages } : {}),
        ...(Object.keys(o.kernel).length ? { kernels: o.kernel } : {}),
        ...(noHeaders.length ? { noHeaders } : {}),
      };
      const r = await up({ shape, paths, log: (l) => console.error(l) });
      // The DPDK/DPVS fixture tarballs the inventory pushes (deterministic; cached by their sources).
      if (o.fixtures) {
        const tf = Date.now();
        const m = await buildFixtures(paths.www);
        console.error(`fixtures: ${m.artifacts.length} tarballs in ${paths.www} (${Date.now() - tf} ms)`);
      }
      const custom =
        shape.balancers !== DEFAULT_SHAPE.balancers ||
        shape.realservers !== DEFAULT_SHAPE.realservers ||
        'kernels' in shape ||
        'noHeaders' in shape ||
        LAB_INSTANCE !== ''; // another instance's addresses are not inventories/lab.yaml's
      let inventory = paths.defaultInventory;
      if (o.inventory !== undefined || custom || shape.realHugepages !== undefined) {
        inventory = resolve(o.inventory ?? paths.instanceInventory);
        const inv = labInventory(r.profiles, {
          inventoryFile: inventory,
          identity: paths.identity,
          knownHosts: paths.knownHosts,
          fixtures: paths.www,
        });
        await writeInventory(
          inventory,
          inventoryYaml(inv, `npm run lab -- ${process.argv.slice(2).join(' ')}`),
        );
      }
      console.log(
        `lab ${r.reused ? 'already up' : 'up'}: ${r.profiles.length} hosts in ${r.ms} ms; inventory ${inventory}; ssh -F ${paths.sshConfig} <host>`,
      );
    },
  );

program
  .command('inventory')
  .description('write the inventory for a lab shape without bringing it up (default: inventories/lab.yaml)')
  .option('--balancers <n>', 'balancers lb1..lbN', count)
  .option('--realservers <n>', 'realservers rs1..rsN', count)
  .option('--out <file>', 'where to write it')
  .action(async (o: { balancers?: number; realservers?: number; out?: string }) => {
    const paths = labPaths();
    const file = resolve(o.out ?? paths.defaultInventory);
    const profiles = labProfiles({
      balancers: o.balancers ?? DEFAULT_SHAPE.balancers,
      realservers: o.realservers ?? DEFAULT_SHAPE.realservers,
    });
    const inv = labInventory(profiles, {
      inventoryFile: file,
      identity: paths.identity,
      knownHosts: paths.knownHosts,
      fixtures: paths.www,
    });
    await writeInventory(file, inventoryYaml(inv, defaultCommand(o.balancers, o.realservers)));
    console.log(`wrote ${file}`);
  });

program
  .command('down')
  .description('remove every namespace, mount, link, process and file of the lab')
  .action(async () => {
    const r = await down();
    console.log(`lab down in ${r.ms} ms (${r.killed} processes stopped)`);
  });

program
  .command('status')
  .description('list the lab hosts')
  .action(async () => {
    const hosts = await status();
    if (!hosts.length) {
      console.log('lab is down');
      return;
    }
    for (const h of hosts) {
      console.log(
        `${h.name.padEnd(10)} ${h.address.padEnd(15)} sshd ${String(h.sshdPid ?? '-').padEnd(8)} ${h.up ? 'up' : 'down'}`,
      );
    }
    if (!hosts.every((h) => h.up)) process.exitCode = 1;
  });

program.parseAsync().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
