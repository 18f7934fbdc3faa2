/**
 * Two lab instances at once (DPVS_LAB_INSTANCE, test/lab/instance.ts): each comes up with its own
 * namespaces, subnet and state directory, passes a plan/apply/plan of its own over real SSH, and goes
 * down without touching the other's namespaces or processes. Runs the built CLI (npm run build first,
 * as `npm test` does).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './paths.js';

const ROOT = repoRoot();
const CLI = join(ROOT, 'dist', 'test', 'lab', 'cli.js');
const TOOL = join(ROOT, 'bin', 'dpvs-deploy.js');
const INSTANCES = ['7', '8'] as const;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(instance: string, file: string, args: string[], timeout = 300_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [file, ...args],
      { cwd: ROOT, timeout, maxBuffer: 64 << 20, env: { ...process.env, DPVS_LAB_INSTANCE: instance } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 255) : 0, stdout, stderr }),
    );
  });
}

function netns(): Promise<string[]> {
  return new Promise((resolve) =>
    execFile('ip', ['netns', 'list'], (_e, out) =>
      resolve(
        String(out)
          .split('\n')
          .map((l) => l.split(' ')[0] ?? '')
          .filter(Boolean),
      ),
    ),
  );
}

afterAll(async () => {
  await Promise.all(INSTANCES.map((i) => run(i, CLI, ['down'])));
});

describe('two lab instances side by side', () => {
  it('each is up, planned and applied on its own subnet, and each down leaves the other', async () => {
    expect(existsSync(CLI), `${CLI}: npm run build first`).toBe(true);
    const before = await netns();
    const ups = await Promise.all(
      INSTANCES.map((i) => run(i, CLI, ['up', '--balancers', '1', '--realservers', '0', '--no-fixtures'])),
    );
    for (const u of ups) expect(u.code, u.stderr).toBe(0);
    const during = await netns();
    for (const i of INSTANCES) {
      expect(during).toContain(`dd${i}-lab`);
      expect(during).toContain(`dd${i}-h-lb1`);
    }
    // the default lab's namespaces (if another suite has it up) are as they were
    expect(during.filter((n) => n.startsWith('dd-'))).toEqual(before.filter((n) => n.startsWith('dd-')));

    await Promise.all(
      INSTANCES.map(async (i) => {
        const inv = join(ROOT, `.lab-${i}`, 'inventory.yaml');
        // the hosts answer on the instance's own addresses: 10.(241+N).1.1
        const facts = await run(i, TOOL, ['facts', inv, '--limit', 'lb1', '--json']);
        expect(facts.code, facts.stderr).toBe(0);
        expect(facts.stdout).toMatch(/"hostname":\s*"lb1"/);
        const first = await run(i, TOOL, ['plan', inv, '--tasks', 'hugepages,nofile']);
        expect(first.code, first.stderr + first.stdout).toBe(2); // changes to make
        const apply = await run(i, TOOL, ['apply', inv, '--tasks', 'hugepages,nofile', '--yes']);
        expect(apply.code, apply.stderr + apply.stdout).toBe(0);
        const again = await run(i, TOOL, ['plan', inv, '--tasks', 'hugepages,nofile']);
        expect(again.code, again.stderr + again.stdout).toBe(0); // in sync
      }),
    );

    // down of the first leaves the second up and answering
    const [a, b] = INSTANCES;
    const downA = await run(a, CLI, ['down']);
    expect(downA.code, downA.stderr).toBe(0);
    const afterA = await netns();
    expect(afterA.filter((n) => n.startsWith(`dd${a}-`))).toEqual([]);
    expect(afterA).toContain(`dd${b}-h-lb1`);
    const st = await run(b, CLI, ['status']);
    expect(st.stdout).toMatch(/lb1.*up/);
    const downB = await run(b, CLI, ['down']);
    expect(downB.code, downB.stderr).toBe(0);
    const after = await netns();
    expect(after.filter((n) => n.startsWith(`dd${a}-`) || n.startsWith(`dd${b}-`))).toEqual([]);
    expect(after.filter((n) => n.startsWith('dd-'))).toEqual(before.filter((n) => n.startsWith('dd-')));
  }, 900_000);
});
