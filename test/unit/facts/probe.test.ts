/**
 * The probe's package and service checks, batched: one dpkg-query (or rpm -q) for every requested
 * package and one `systemctl is-active` / `is-enabled` for all units, parsed line by line. The parsed
 * facts must be those of the per-item checks they replace; those checks are kept here as the reference
 * and run against the same stand-ins of dpkg-query, rpm and systemctl. (PATH has no awk here, so the
 * dpkg branch takes its dpkg-query fallback; the awk read of dpkg's status file is tested on dpkg's
 * samples in dpkg-status.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  packagesSnippet,
  requestedFacts,
  servicesSnippet,
  UNIT_DIRS,
  UNIT_LOAD_PATH,
} from '../../../src/facts/requested.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'probe-batch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---- parsing the batched output ----

describe('batched package and service lines', () => {
  it('all installed (dpkg): each requested package gets its version, whatever order dpkg prints', () => {
    const f = requestedFacts.parse(
      [
        'pkgwant\tgcc',
        'pkgwant\tmake',
        'pkgdeb\tmake\tinstall ok installed\t4.3-4.1',
        'pkgdeb\tgcc\tinstall ok installed\t4:12.2.0-3',
      ].join('\n'),
    );
    expect(f.packages).toEqual({ gcc: '4:12.2.0-3', make: '4.3-4.1' });
  });

  it('some missing (dpkg): unknown and removed (config-files) packages are null; a held one is installed', () => {
    const f = requestedFacts.parse(
      [
        'pkgwant\tgcc',
        'pkgwant\tlibnuma-dev',
        'pkgwant\tnumactl-devel',
        'pkgwant\tmeson',
        'pkgdeb\tgcc\tinstall ok installed\t4:12.2.0-3',
        'pkgdeb\tlibnuma-dev\tdeinstall ok config-files\t2.0.16-1',
        'pkgdeb\tmeson\thold ok installed\t1.0.1-5',
      ].join('\n'),
    );
    expect(f.packages).toEqual({
      gcc: '4:12.2.0-3',
      'libnuma-dev': null,
      'numactl-devel': null,
      meson: '1.0.1-5',
    });
  });

  it('rpm: "not installed" lines are ignored, an installonly package keeps its first version', () => {
    const f = requestedFacts.parse(
      [
        'pkgwant\tgcc',
        'pkgwant\tkernel-devel',
        'pkgwant\tlibpcap-devel',
        'pkgrpm\tgcc\t11.4.1-2.1.el9',
        'pkgrpm\tkernel-devel\t5.14.0-362.8.1.el9_3',
        'pkgrpm\tkernel-devel\t5.14.0-427.el9',
        'package libpcap-devel is not installed',
      ].join('\n'),
    );
    expect(f.packages).toEqual({
      gcc: '11.4.1-2.1.el9',
      'kernel-devel': '5.14.0-362.8.1.el9_3',
      'libpcap-devel': null,
    });
  });

  it("services: systemctl's words, a unit that does not exist, states systemctl printed none for", () => {
    const f = requestedFacts.parse(
      [
        'svc\tdpvs active enabled 1',
        'svc\tkeepalived reloading static 1',
        'svc\tdpvs-hugepages failed disabled 1',
        'svc\tdpvs-deploy-bind inactive - 0', // does not exist: is-enabled printed an error, no word
        'svc\told unknown - 0', // does not exist, old systemd
        'svc\tmasked inactive masked 0',
        'svc\tnosystemd - - 0',
      ].join('\n'),
    );
    expect(f.services).toEqual({
      dpvs: { active: true, enabled: true, unitExists: true },
      keepalived: { active: true, enabled: true, unitExists: true },
      'dpvs-hugepages': { active: false, enabled: false, unitExists: true },
      'dpvs-deploy-bind': { active: false, enabled: false, unitExists: false },
      old: { active: false, enabled: false, unitExists: false },
      masked: { active: false, enabled: false, unitExists: false },
      nosystemd: { active: false, enabled: false, unitExists: false },
    });
  });
});

// ---- the shell, against stand-ins, compared with the per-item checks ----

/** The per-item checks before batching (probe of commit f64bd0f), verbatim but for the unit dirs. */
function legacyPackages(pkgs: string[]): string {
  return `pm=; if command -v rpm >/dev/null 2>&1 && grep -qiE '^(ID|ID_LIKE)=.*(rhel|fedora|centos|suse)' /etc/os-release 2>/dev/null; then pm=rpm
elif command -v dpkg-query >/dev/null 2>&1; then pm=dpkg; elif command -v rpm >/dev/null 2>&1; then pm=rpm; fi
for p in ${pkgs.join(' ')}; do
  case $pm in dpkg) v=$(dpkg-query -W -f='\${Status} \${Version}' "$p" 2>/dev/null | sed -n 's/^install ok installed //p');;
  rpm) v=$(rpm -q --qf '%{VERSION}-%{RELEASE}' "$p" 2>/dev/null) || v=;; *) v=;; esac
  printf 'pkg\\t%s %s\\n' "$p" "$v"; done`;
}

function legacyServices(units: string[], dirs: string[]): string {
  return `for s in ${units.join(' ')}; do a=0; e=0; u=0; systemctl is-active --quiet "$s" 2>/dev/null && a=1; systemctl is-enabled --quiet "$s" 2>/dev/null && e=1; for d in ${dirs.join(' ')}; do [ -f "$d/$s.service" ] || [ -f "$d/$s" ] && u=1; done; printf 'svc\\t%s %s %s %s\\n' "$s" $a $e $u; done`;
}

function legacyParse(text: string) {
  const packages: Record<string, string | null> = {};
  const services: Record<string, { active: boolean; enabled: boolean; unitExists: boolean }> = {};
  for (const line of text.split('\n')) {
    const [k, v = ''] = [line.slice(0, line.indexOf('\t')), line.slice(line.indexOf('\t') + 1)];
    if (k === 'pkg') packages[v.slice(0, v.indexOf(' '))] = v.slice(v.indexOf(' ') + 1) || null;
    if (k === 'svc') {
      const [n, a, e, u] = v.split(' ');
      services[n ?? ''] = { active: a === '1', enabled: e === '1', unitExists: u === '1' };
    }
  }
  return { packages, services };
}

/**
 * Stand-ins that behave like the real tools: dpkg-query prints known packages in its database order and
 * "no packages found" on stderr; rpm prints per argument, "package X is not installed" on stdout;
 * systemctl prints one state per unit, "inactive" (is-active) for a unit it does not know, and for
 * is-enabled stops at the first unit it cannot read with an error on stderr (mode "abort", systemd) or
 * skips it (mode "skip", the lab's stand-in). Every call is logged.
 */
const STUBS: Record<string, string> = {
  'dpkg-query': `#!/bin/sh
printf '%s\\n' "dpkg-query $*" >> "$STUB_LOG"
fmt=
while [ $# -gt 0 ]; do case $1 in -W) ;; -f) fmt=$2; shift;; -f=*) fmt=\${1#-f=};; *) break;; esac; shift; done
while read -r n w e st v; do
  for p in "$@"; do [ "$p" = "$n" ] || continue
    printf '%b' "$(printf '%s' "$fmt" | sed -e "s/\\\${Package}/$n/g" -e "s/\\\${Status}/$w $e $st/g" -e "s/\\\${Version}/$v/g")"
  done
done < "$STUB_DIR/dpkg-db"
rc=0
for p in "$@"; do grep -q "^$p " "$STUB_DIR/dpkg-db" || { echo "dpkg-query: no packages found matching $p" >&2; rc=1; }; done
exit $rc
`,
  rpm: `#!/bin/sh
printf '%s\\n' "rpm $*" >> "$STUB_LOG"
fmt=
while [ $# -gt 0 ]; do case $1 in -q) ;; --qf) fmt=$2; shift;; *) break;; esac; shift; done
rc=0
for p in "$@"; do found=
  while read -r n v r; do [ "$p" = "$n" ] || continue; found=1
    printf '%b' "$(printf '%s' "$fmt" | sed -e "s/%{NAME}/$n/g" -e "s/%{VERSION}/$v/g" -e "s/%{RELEASE}/$r/g")"
  done < "$STUB_DIR/rpm-db"
  [ -n "$found" ] || { echo "package $p is not installed"; rc=$((rc+1)); }
done
exit $rc
`,
  systemctl: `#!/bin/sh
printf '%s\\n' "systemctl $*" >> "$STUB_LOG"
q=; verb=; set -- "$@"
for a in "$@"; do shift; case $a in --quiet) q=1;; is-active|is-enabled) verb=$a;; *) set -- "$@" "$a";; esac; done
ok=
for u in "$@"; do
  line=$(grep "^$u " "$STUB_DIR/units")
  if [ "$verb" = is-active ]; then
    s=$(echo "$line" | cut -d' ' -f2); s=\${s:-inactive}
    case $s in active|reloading) ok=1;; esac
  else
    s=$(echo "$line" | cut -d' ' -f3)
    if [ -z "$s" ]; then
      echo "Failed to get unit file state for $u.service: No such file or directory" >&2
      [ "$STUB_MODE" = skip ] && continue
      exit 1
    fi
    case $s in enabled|enabled-runtime|static|alias|indirect|generated) ok=1;; esac
  fi
  [ -n "$q" ] || echo "$s"
done
[ -n "$ok" ]
`,
};

interface World {
  dpkg?: string[];
  rpm?: string[];
  /** "name active-state [enabled-state]"; a unit without enabled state has no unit file */
  units?: string[];
  /** unit names with a unit file in the world's unit dir */
  unitFiles?: string[];
  /** unit names with a unit file in another directory of systemd's load path (like /run/systemd/system) */
  otherUnitFiles?: string[];
  /** unit names masked in the world's unit dir (a link to /dev/null: not a regular file) */
  masked?: string[];
  /** names with a SysV init script */
  sysv?: string[];
  mode?: 'abort' | 'skip';
  tools?: Array<keyof typeof STUBS>;
}

let worlds = 0;
function run(world: World, script: string): { out: string; calls: string[] } {
  const dir = path.join(tmp, `w${worlds++}`);
  const bin = path.join(dir, 'bin');
  const units = path.join(dir, 'units.d');
  mkdirSync(bin, { recursive: true });
  mkdirSync(units);
  const other = path.join(dir, 'run-units.d');
  const sysv = path.join(dir, 'init.d');
  mkdirSync(other);
  mkdirSync(sysv);
  for (const u of world.otherUnitFiles ?? []) writeFileSync(path.join(other, `${u}.service`), '[Service]\n');
  for (const u of world.masked ?? []) symlinkSync('/dev/null', path.join(units, `${u}.service`));
  for (const u of world.sysv ?? []) writeFileSync(path.join(sysv, u), '#!/bin/sh\n');
  for (const t of world.tools ?? ['dpkg-query', 'systemctl']) {
    writeFileSync(path.join(bin, t), STUBS[t] as string);
    chmodSync(path.join(bin, t), 0o755);
  }
  writeFileSync(path.join(dir, 'dpkg-db'), (world.dpkg ?? []).map((l) => `${l}\n`).join(''));
  writeFileSync(path.join(dir, 'rpm-db'), (world.rpm ?? []).map((l) => `${l}\n`).join(''));
  writeFileSync(path.join(dir, 'units'), (world.units ?? []).map((l) => `${l}\n`).join(''));
  for (const u of world.unitFiles ?? []) writeFileSync(path.join(units, `${u}.service`), '[Service]\n');
  writeFileSync(path.join(dir, 'log'), '');
  // the stand-ins first; sh, sed, grep, cut from the system (not its dpkg-query, rpm or systemctl)
  const sys = path.join(dir, 'sys');
  mkdirSync(sys);
  for (const t of ['sed', 'grep', 'cut', 'cat']) {
    const real = execFileSync('sh', ['-c', `command -v ${t}`])
      .toString()
      .trim();
    writeFileSync(path.join(sys, t), `#!/bin/sh\nexec ${real} "$@"\n`);
    chmodSync(path.join(sys, t), 0o755);
  }
  const script_ = script
    .replaceAll('@UNITS@', units)
    .replaceAll('@RUNUNITS@', other)
    .replaceAll('@SYSV@', sysv);
  const out = execFileSync('/bin/sh', ['-c', script_], {
    env: {
      PATH: `${bin}:${sys}`,
      STUB_DIR: dir,
      STUB_LOG: path.join(dir, 'log'),
      STUB_MODE: world.mode ?? 'abort',
    },
  }).toString();
  return { out, calls: readFileSync(path.join(dir, 'log'), 'utf8').split('\n').filter(Boolean) };
}

const PKGS = ['gcc', 'libnuma-dev', 'make', 'meson', 'numactl-devel'];
const UNITS = ['dpvs', 'dpvs-deploy-bind', 'dpvs-hugepages', 'keepalived'];

/** Batched and per-item facts of one world, and the batched run's tool calls. */
function both(world: World, pkgs: string[], units: string[]) {
  // as in the probe: each part only when something is requested
  const batched = [
    pkgs.length ? packagesSnippet(pkgs) : '',
    servicesSnippet(units, ['@UNITS@'], ['@UNITS@', '@RUNUNITS@'], ['@SYSV@']),
  ];
  const legacy = [pkgs.length ? legacyPackages(pkgs) : '', legacyServices(units, ['@UNITS@'])];
  const b = run(world, batched.join('\n'));
  const l = run(world, legacy.join('\n'));
  const f = requestedFacts.parse(b.out);
  return {
    facts: { packages: f.packages, services: f.services },
    legacy: legacyParse(l.out),
    calls: b.calls,
    legacyCalls: l.calls,
  };
}

describe('batched probe shell against stand-ins (same facts as the per-item checks)', () => {
  it('all installed, all units present: one dpkg-query, one is-active, one is-enabled', () => {
    const r = both(
      {
        dpkg: PKGS.map((p, i) => `${p} install ok installed 1.${i}-1`),
        units: UNITS.map((u) => `${u} active enabled`),
        unitFiles: UNITS,
      },
      PKGS,
      UNITS,
    );
    expect(r.facts).toEqual(r.legacy);
    expect(Object.values(r.facts.packages).every((v) => v !== null)).toBe(true);
    expect(Object.values(r.facts.services).every((s) => s.active && s.enabled && s.unitExists)).toBe(true);
    expect(r.calls).toEqual([
      `dpkg-query -W -f=pkgdeb\\t\${Package}\\t\${Status}\\t\${Version}\\n ${PKGS.join(' ')}`,
      `systemctl is-active ${UNITS.join(' ')}`,
      `systemctl is-enabled ${UNITS.join(' ')}`,
    ]);
    expect(r.legacyCalls.length).toBe(PKGS.length + 2 * UNITS.length);
  });

  it('some packages missing, some units stopped or disabled', () => {
    const r = both(
      {
        dpkg: ['gcc install ok installed 4:12.2.0-3', 'meson deinstall ok config-files 1.0.1-5'],
        units: [
          'dpvs failed enabled',
          'dpvs-deploy-bind active static',
          'dpvs-hugepages inactive disabled',
          'keepalived reloading masked',
        ],
        unitFiles: UNITS,
      },
      PKGS,
      UNITS,
    );
    expect(r.facts).toEqual(r.legacy);
    expect(r.facts.packages).toEqual({
      gcc: '4:12.2.0-3',
      'libnuma-dev': null,
      make: null,
      meson: null,
      'numactl-devel': null,
    });
    expect(r.facts.services.keepalived).toEqual({ active: true, enabled: false, unitExists: true });
    expect(r.calls.length).toBe(3);
  });

  it('a unit systemd cannot find (no file on its load path, no SysV script): not asked, the others in one call', () => {
    for (const mode of ['abort', 'skip'] as const) {
      const r = both(
        {
          dpkg: [],
          units: ['dpvs active enabled', 'dpvs-hugepages active enabled', 'keepalived inactive disabled'],
          unitFiles: ['dpvs', 'dpvs-hugepages', 'keepalived'],
          mode,
        },
        PKGS,
        UNITS,
      );
      expect(r.facts).toEqual(r.legacy);
      expect(r.facts.services['dpvs-deploy-bind']).toEqual({
        active: false,
        enabled: false,
        unitExists: false,
      });
      expect(r.facts.services.dpvs).toEqual({ active: true, enabled: true, unitExists: true });
      expect(r.calls.filter((c) => c.startsWith('systemctl'))).toEqual([
        `systemctl is-active ${UNITS.join(' ')}`,
        'systemctl is-enabled dpvs dpvs-hugepages keepalived',
      ]);
      // the legacy check asked it, and systemctl printed nothing on stdout (its error on stderr)
      expect(r.legacyCalls).toContain('systemctl is-enabled --quiet dpvs-deploy-bind');
    }
  });

  it('a unit only another load-path directory, a mask or a SysV script knows: asked alone, as before', () => {
    for (const mode of ['abort', 'skip'] as const) {
      const r = both(
        {
          dpkg: [],
          units: [
            'dpvs active enabled',
            'dpvs-deploy-bind inactive masked',
            'dpvs-hugepages active enabled',
            'keepalived inactive enabled',
          ],
          unitFiles: ['dpvs'],
          masked: ['dpvs-deploy-bind'],
          otherUnitFiles: ['dpvs-hugepages'],
          sysv: ['keepalived'],
          mode,
        },
        [],
        UNITS,
      );
      expect(r.facts).toEqual(r.legacy);
      expect(r.facts.services.keepalived).toEqual({ active: false, enabled: true, unitExists: false });
      expect(r.facts.services['dpvs-hugepages']).toEqual({ active: true, enabled: true, unitExists: false });
      expect(r.facts.services['dpvs-deploy-bind']?.enabled).toBe(false);
      expect(r.calls.filter((c) => c.startsWith('systemctl'))).toEqual([
        `systemctl is-active ${UNITS.join(' ')}`,
        'systemctl is-enabled dpvs',
        'systemctl is-enabled dpvs-deploy-bind',
        'systemctl is-enabled dpvs-hugepages',
        'systemctl is-enabled keepalived',
      ]);
    }
  });

  it("the load path asked about is systemd's (upstream sample) and holds the unit directories", () => {
    const sample = JSON.parse(
      readFileSync(new URL('../../fixtures/upstream/systemd/unit-paths.json', import.meta.url), 'utf8'),
    ) as { unitPaths: string[]; isEnabledUnknownUnit: { stdout: string[]; exit: number } };
    expect([...UNIT_LOAD_PATH]).toEqual(sample.unitPaths);
    for (const d of UNIT_DIRS) expect(UNIT_LOAD_PATH).toContain(d);
    // what a skipped call would have given: no state on stdout ("-"), a non-zero exit
    expect(sample.isEnabledUnknownUnit.stdout).toEqual([]);
    expect(sample.isEnabledUnknownUnit.exit).not.toBe(0);
  });

  it('a batch without one line per unit is not used: each unit is asked alone, same facts', () => {
    // unit files exist but systemd cannot read one of them (is-enabled stops or skips there)
    for (const mode of ['abort', 'skip'] as const) {
      const r = both(
        {
          units: [
            'dpvs active enabled',
            'dpvs-deploy-bind active',
            'dpvs-hugepages active static',
            'keepalived active enabled',
          ],
          unitFiles: UNITS,
          mode,
        },
        [],
        UNITS,
      );
      expect(r.facts.services).toEqual(r.legacy.services);
      expect(r.facts.services['dpvs-hugepages']?.enabled).toBe(true);
      expect(r.calls.filter((c) => c.startsWith('systemctl is-enabled')).length).toBe(1 + UNITS.length);
    }
  });

  it('rpm family and a host without systemctl', () => {
    const world: World = {
      tools: ['rpm'],
      rpm: ['gcc 11.4.1 2.1.el9', 'numactl-devel 2.0.16 1.el9'],
    };
    const r = both(world, PKGS, UNITS);
    expect(r.facts).toEqual(r.legacy);
    expect(r.facts.packages).toEqual({
      gcc: '11.4.1-2.1.el9',
      'libnuma-dev': null,
      make: null,
      meson: null,
      'numactl-devel': '2.0.16-1.el9',
    });
    expect(r.facts.services.dpvs).toEqual({ active: false, enabled: false, unitExists: false });
    expect(r.calls).toEqual([`rpm -q --qf pkgrpm\\t%{NAME}\\t%{VERSION}-%{RELEASE}\\n ${PKGS.join(' ')}`]);
  });
});
