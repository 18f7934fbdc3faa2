/**
 * node dist/bench/transport.js INVENTORY [--forks N] [--command CMD]: dpvs-deploy's transport alone
 * (src/transport/connect.ts: one ssh2 connection per host, one exec, close), no probe, no planning.
 * The bench runs it with `true` next to Ansible and OpenSSH running `true`, to separate the SSH and
 * orchestration cost from the cost of the probe script on the host. Exit = hosts that failed.
 */
import { loadInventory } from '../src/inventory/load.js';
import { mapLimit } from '../src/run/pool.js';
import { connectHost } from '../src/transport/connect.js';

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: transport INVENTORY [--forks N] [--command CMD]');
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const inv = await loadInventory(file);
  const forks = Number(arg('--forks') ?? inv.hosts.length);
  const command = arg('--command') ?? 'true';
  let failed = 0;
  await mapLimit(inv.hosts, forks, async (h) => {
    try {
      const t = await connectHost(h, { inventoryDir: inv.dir });
      try {
        const r = await t.exec(command, { timeoutMs: 120_000 });
        if (r.code !== 0) throw new Error(`exit ${r.code}`);
      } finally {
        await t.close();
      }
    } catch (e) {
      failed++;
      process.stderr.write(`${h.name}: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  });
  process.exitCode = Math.min(failed, 100);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(101);
});
