/**
 * node dist/bench/known-hosts.js [HOSTS] [--old]: what the host key lookups of HOSTS connections cost
 * against a HOSTS-line known_hosts file (`[10.241.a.b]:22xx` names; plain, then hashed with
 * ssh-keygen -H's |1|salt|hash form), as openSshClient does them, all connections at once. Prints the
 * median of 5 of wall and CPU ms and the number of parses. `--old` does what each connection did before
 * the shared parse: read and parse the whole file, keep the lines naming the host.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  checkHostKey,
  entryMatchesHost,
  KnownHostsCache,
  knownHostsFor,
  parseKnownHosts,
} from '../src/transport/known-hosts.js';

const n = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 500);
const old = process.argv.includes('--old');

const sshString = (b: Buffer): Buffer => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};
const names = Array.from(
  { length: n },
  (_, i) => `[10.241.${Math.floor(i / 200)}.${(i % 200) + 1}]:${2201 + (i % 4)}`,
);
const keys = names.map(() =>
  Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(randomBytes(32))]),
);
const dir = mkdtempSync(join(tmpdir(), 'kh-bench-'));

function knownHostsFile(hashed: boolean): string {
  const lines = names.map((name, i) => {
    const salt = randomBytes(20);
    const host = hashed
      ? `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
      : name;
    return `${host} ssh-ed25519 ${keys[i]?.toString('base64')}`;
  });
  const f = join(dir, hashed ? 'hashed' : 'plain');
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

async function run(file: string): Promise<{ wall: number; cpu: number; parses: number }> {
  const cache = new KnownHostsCache();
  let parses = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    names.map(async (name, i) => {
      let entries;
      if (old) {
        const { readFile } = await import('node:fs/promises');
        entries = parseKnownHosts(await readFile(file, 'utf8'), file).filter((e) =>
          entryMatchesHost(e, name),
        );
        parses++;
      } else entries = await knownHostsFor([file], name, cache);
      const v = checkHostKey(entries, name, keys[i] as Buffer);
      if (v.status !== 'match' || entries.length !== 1) throw new Error(`${name}: ${v.status}`);
    }),
  );
  const wall = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  return { wall, cpu: (c.user + c.system) / 1000, parses: old ? parses : cache.parses };
}

try {
  for (const hashed of [false, true]) {
    const f = knownHostsFile(hashed);
    const runs = [];
    for (let r = 0; r < 5; r++) runs.push(await run(f));
    runs.sort((a, b) => a.wall - b.wall);
    const m = runs[2] as { wall: number; cpu: number; parses: number };
    process.stdout.write(
      `${old ? 'per connection' : 'shared'} ${hashed ? 'hashed' : 'plain'}: ${n} hosts x ${n} lines: ` +
        `wall ${m.wall.toFixed(0)} ms, CPU ${m.cpu.toFixed(0)} ms, ${m.parses} parse(s) (median of 5)\n`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
