#!/usr/bin/env bash
# The main job against the built-in local lab: bring the lab up, validate the inventory, plan (changes
# pending: exit 2), apply, plan again (no changes: exit 0) and verify (in sync: exit 0).
set -uo pipefail
cd "$(dirname "$0")/.."
INV=${1:-inventories/lab.yaml}
CLI="node bin/dpvs-deploy.js"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
expect() { # expect CODE CMD...
  local want=$1; shift
  "$@"; local got=$?
  if [ "$got" != "$want" ]; then echo "demo: '$*' exited $got, expected $want" >&2; exit 1; fi
}
npm run -s build || exit 1
step "lab up";                 npm run -s lab -- up || exit 1
step "validate $INV";          expect 0 $CLI validate "$INV"
step "plan (changes pending)"; $CLI plan "$INV" --stats; rc=$?
if [ "$rc" != 2 ] && [ "$rc" != 0 ]; then echo "demo: plan failed ($rc)" >&2; exit 1; fi
step "apply";                  expect 0 $CLI apply "$INV" --yes --stats
step "plan again (no changes)"; expect 0 $CLI plan "$INV" --no-diff
step "verify";                 expect 0 $CLI verify "$INV" --no-diff
echo
echo "demo: done. The lab is still up: 'npm run lab -- status', 'npm run lab -- down' to remove it."
