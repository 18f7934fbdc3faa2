#!/usr/bin/env node
/**
 * npm run vm -- build [--force] | up | down | status | ssh [COMMAND] | template
 * The VM tier's guest: test/vm/README.md.
 */
import { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { buildImage } from './image.js';
import { vmPaths } from './paths.js';
import { guestSsh } from './ssh.js';
import { down, status, target, templateYaml, up } from './vm.js';

const log = (l: string): void => console.error(l);
const program = new Command('vm').description('the VM tier: a Debian guest under QEMU software emulation');

program
  .command('build')
  .description('build the image (cached by a hash of test/vm/build.sh and packages.txt)')
  .option('--force', 'rebuild even when the cache is current')
  .action(async (o: { force?: boolean }) => {
    const r = await buildImage(vmPaths(), { force: o.force === true, log });
    console.log(
      `image ${r.cached ? 'cached (inputs unchanged)' : 'built'} in ${(r.ms / 1000).toFixed(1)} s; kernel ${r.kver}`,
    );
  });

program
  .command('up')
  .description('boot the guest (builds the image first if needed); writes .vm/run/vm.yaml')
  .action(async () => {
    const p = vmPaths();
    const r = await up(p, log);
    console.log(
      `vm ${r.reused ? 'already up' : 'up'}: pid ${r.state.pid}, ssh 127.0.0.1:${r.state.port}; inventory ${r.inventory}`,
    );
  });

program
  .command('down')
  .description('power the guest off (kills only its qemu pid if it does not stop)')
  .action(async () => {
    const r = await down(vmPaths(), log);
    console.log(r.wasRunning ? `vm down (${r.clean ? 'powered off' : 'killed'})` : 'vm was not running');
  });

program
  .command('status')
  .description('running or not')
  .action(async () => {
    const s = await status(vmPaths());
    if (s.running && s.state)
      console.log(`running: pid ${s.state.pid}, ssh 127.0.0.1:${s.state.port}, since ${s.state.startedAt}`);
    else console.log('not running');
    process.exitCode = s.running ? 0 : 3;
  });

program
  .command('ssh')
  .description('run a command in the guest')
  .argument('<command...>')
  .action(async (cmd: string[]) => {
    const p = vmPaths();
    const s = await status(p);
    if (!s.running || !s.state) throw new Error('the vm is not running (npm run vm -- up)');
    const r = await guestSsh(target(p, s.state), cmd.join(' '));
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    process.exitCode = r.code;
  });

program
  .command('template')
  .description('rewrite inventories/vm.yaml (the committed template)')
  .action(async () => {
    const p = vmPaths();
    await writeFile(p.template, templateYaml(p));
    console.log(p.template);
  });

program.parseAsync().catch((e: unknown) => {
  console.error(`vm: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
