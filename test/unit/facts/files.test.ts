/**
 * The probe's file reads, run on this machine through the real probe script and parser: `files` come
 * back with mode, sha256 and content; `digests` (cached tarballs, kernel modules) with mode and sha256
 * only, and none of their bytes is in the probe's output.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeRequests, parseProbeOutput, probeScript } from '../../../src/facts/probe.js';
import { quote } from '../../../src/transport/quote.js';

const dir = mkdtempSync(path.join(tmpdir(), 'probe-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('files and digests', () => {
  const conf = path.join(dir, 'dpvs.conf');
  const big = path.join(dir, 'dpdk.tar.xz');
  const missing = path.join(dir, 'nope.ko');
  // a marker that would show in the output if any byte of the digest were copied into it
  const bigBytes = Buffer.concat([Buffer.from('DIGEST-ONLY-MARKER\n'), Buffer.alloc(200_000, 7)]);
  writeFileSync(conf, 'global_defs {\n}\n', { mode: 0o640 });
  writeFileSync(big, bigBytes);

  it('a digest has its mode and sha256, no content, and no byte of it is read into the output', () => {
    const req = mergeRequests([{ files: [conf] }, { digests: [big, missing] }]);
    const out = execFileSync('sh', ['-s'], { input: probeScript(req) }).toString();
    const facts = parseProbeOutput(out, req);
    expect(facts.files[conf]).toEqual({
      exists: true,
      mode: '0640',
      sha256: sha('global_defs {\n}\n'),
      content: 'global_defs {\n}\n',
    });
    expect(facts.files[big]).toEqual({ exists: true, mode: '0644', sha256: sha(bigBytes), content: null });
    expect(facts.files[missing]).toEqual({ exists: false, mode: null, sha256: null, content: null });
    // the blob is base64: decode it to look for the marker
    const blob =
      out.split('@@dpvs-deploy-section@@ blob\n')[1]?.split('@@dpvs-deploy-section@@ end')[0] ?? '';
    const bytes = Buffer.from(blob.split('\n').slice(1).join(''), 'base64');
    expect(bytes.includes('DIGEST-ONLY-MARKER')).toBe(false);
    expect(bytes.includes('global_defs')).toBe(true);
  });

  it('a path asked for as a file and as a digest is read as a file (its content too)', () => {
    const req = mergeRequests([{ digests: [conf] }, { files: [conf] }]);
    expect(req.digests).toEqual([]);
    const facts = parseProbeOutput(execFileSync('sh', ['-s'], { input: probeScript(req) }).toString(), req);
    expect(facts.files[conf]?.content).toBe('global_defs {\n}\n');
  });

  it('digests alone: one stat and one sha256sum, no head', () => {
    const req = mergeRequests([{ digests: [big] }]);
    const script = probeScript(req);
    expect(script).not.toMatch(/\bhead -v/);
    const facts = parseProbeOutput(execFileSync('sh', ['-s'], { input: script }).toString(), req);
    expect(facts.files[big]?.sha256).toBe(sha(bigBytes));
  });

  it('hashes: a key reads as sha256sum prints it, hashed by the one sha256sum the files use', () => {
    const req = mergeRequests([{ files: [conf] }, { hashes: { mods: [big, missing, conf] } }]);
    const script = probeScript(req);
    expect(script.match(/\bsha256sum\b/g)).toHaveLength(1);
    const facts = parseProbeOutput(execFileSync('sh', ['-s'], { input: script }).toString(), req);
    const real = spawnSync('sha256sum', ['--', big, missing, conf], { encoding: 'utf8' });
    expect(facts.outputs.mods).toEqual({ code: real.status, stdout: real.stdout });
    expect(facts.outputs.mods?.code).toBe(1);
    // the hashed file is read as a digest: no content
    expect(facts.files[big]?.content).toBeNull();
  });

  it('present: a stat only (exists and mode), never hashed, not even by the sha256sum the files use', () => {
    const req = mergeRequests([{ files: [conf] }, { present: [big, missing] }]);
    const script = probeScript(req);
    const facts = parseProbeOutput(execFileSync('sh', ['-s'], { input: script }).toString(), req);
    expect(facts.files[big]).toEqual({ exists: true, mode: '0644', sha256: null, content: null });
    expect(facts.files[missing]).toEqual({ exists: false, mode: null, sha256: null, content: null });
    expect(facts.files[conf]?.content).toBe('global_defs {\n}\n');
    // the sha256sum's list is built from the files and digests only (the same line for `conf` is there)
    const listed = (p: string): string => `f=${quote(p)}; [ -f "$f" ] && [ -r "$f" ] && set -- "$@" "$f"`;
    expect(script).toContain(listed(conf));
    expect(script).not.toContain(listed(big));
  });
});
