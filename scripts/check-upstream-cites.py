#!/usr/bin/env python3
"""Prints the upstream line behind every citation of the behaviour corpus (test/fixtures/upstream/), so a
reviewer can check each sample against iqiyi/dpvs. Needs a clone of iqiyi/dpvs with its tags:
  python3 scripts/check-upstream-cites.py /path/to/dpvs   (exit 1 when a citation does not resolve)"""
import glob, os, re, subprocess, sys
import yaml

repo = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('DPVS_REPO', '')
if not repo:
    sys.exit('usage: check-upstream-cites.py DPVS_GIT_DIR')
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'upstream')
bad = 0
for f in sorted(glob.glob(os.path.join(root, '*.yaml'))):
    for e in yaml.safe_load(open(f)):
        for c in e['cite']:
            m = re.match(r'(v[\d.]+):([^:]+):(\d+) — (.*)', c)
            if not m:
                print('NO LINE', e['id'], c); bad += 1; continue
            tag, path, line, _ = m.groups()
            try:
                text = subprocess.run(['git', '-C', repo, 'show', f'{tag}:{path}'], capture_output=True,
                                      check=True).stdout.decode('utf-8', 'replace').split('\n')
            except subprocess.CalledProcessError:
                print('MISSING', e['id'], tag, path); bad += 1; continue
            n = int(line)
            if n > len(text):
                print('PAST END', e['id'], c); bad += 1; continue
            print(f"{e['id'][:32]:32} {tag}:{path}:{line}: {text[n-1].strip()[:110]}")
sys.exit(1 if bad else 0)
