#!/bin/bash
# cluster_format.sh: `khorgos format --cluster ID --replica N --replica-count 3|5` records the
# replica's identity in DIR/cluster (64 bytes, 0600) beside an ordinary data directory, which
# check verifies as a single node's. The three options go together, --replica-count is 3 or 5,
# --replica below it: anything else is a usage error (exit 2) that creates nothing.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for replica in 0 1 2; do
    out=$("$KHORGOS" format --data "$work/r$replica" --accounts 64 --cluster 7 \
        --replica $replica --replica-count 3) || fail "format of replica $replica failed"
    case "$out" in
        *"replica $replica of 3 in cluster 7, generation 0 ($work/r$replica/cluster)"*) ;;
        *) fail "format said: $out" ;;
    esac
    [ "$(stat -c '%s %a' "$work/r$replica/cluster")" = "64 600" ] ||
        fail "r$replica/cluster: $(stat -c '%s %a' "$work/r$replica/cluster")"
    "$KHORGOS" check --data "$work/r$replica" >/dev/null || fail "check of replica $replica"
done
cmp -s "$work/r0/cluster" "$work/r1/cluster" && fail "replicas 0 and 1 have one identity"
# A single node's directory has no identity file.
"$KHORGOS" format --data "$work/single" >/dev/null || fail "single-node format"
[ -e "$work/single/cluster" ] && fail "a single node got an identity"

refused() {
    local status
    "$KHORGOS" format --data "$work/bad" "$@" >/dev/null 2>"$work/err"
    status=$?
    [ $status -eq 2 ] || fail "format $*: exit $status, not 2"
    [ -e "$work/bad" ] && fail "format $*: created $work/bad"
    grep -q "^khorgos format: " "$work/err" || fail "format $*: no message: $(cat "$work/err")"
}
refused --cluster 7 --replica 3 --replica-count 3
refused --cluster 7 --replica 1 --replica-count 4
refused --cluster 7 --replica 1
refused --replica-count 3
refused --cluster x --replica 1 --replica-count 3
refused --cluster 7 --replica -1 --replica-count 3
refused --cluster 7 --replica 1 --replica-count
refused --replica 1 --replica-count 3
refused --cluster 7 --replica 1 --replica-count 3 --voters 4
refused --cluster 7 --replica 1 --replica-count 3 --generation 1000001
refused --cluster 7 --generation 1
# --cluster alone is a single node: its id goes to the superblock, and no DIR/cluster is made.
"$KHORGOS" format --data "$work/single7" --cluster 7 >"$work/out" 2>&1 ||
    fail "--cluster alone: $(cat "$work/out")"
[ -e "$work/single7/cluster" ] && fail "--cluster alone wrote a replica identity"
"$KHORGOS" inspect --data "$work/single7" | grep -q "^cluster 7$" || fail "cluster 7 not recorded"
echo "ok: 3 replicas formatted with their identities, 11 bad option sets refused, a single node"
