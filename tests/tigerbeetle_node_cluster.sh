#!/bin/bash
# tigerbeetle_node_cluster.sh: TigerBeetle's own Node client suite (tigerbeetle-node 0.17.9,
# dist/test.js, 27 tests) against a three-replica Khorgos cluster on loopback, the client given
# all three addresses: it finds the leader from the views in replies and pongs
# (docs/replication.md). Uses the package tigerbeetle_node.sh installs into build/node, and is
# skipped, saying so, when it is not there. Then SIGTERM stops every replica cleanly and their
# journals hold the same requests (`inspect` equal). Client ports 4720-4722, raft 5720-5722.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
suite=$root/build/node/node_modules/tigerbeetle-node/dist/test.js
if [ ! -f "$suite" ] || ! command -v node >/dev/null; then
    echo "SKIP: tigerbeetle-node is not installed in build/node (tests/tigerbeetle_node.sh does)"
    exit 0
fi
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

addresses=127.0.0.1:4720,127.0.0.1:4721,127.0.0.1:4722
for index in 0 1 2; do
    "$KHORGOS" format --data "$work/r$index" --cluster 0 --replica "$index" \
        --replica-count 3 >/dev/null || fail "format r$index"
    "$KHORGOS" start --data "$work/r$index" --addresses "$addresses" --replica "$index" \
        2>"$work/r$index.log" &
    pids+=($!)
done
for ((tries = 0; tries < 100; tries++)); do
    grep -q "event=leading" "$work"/r?.log && break
    sleep 0.1
done
grep -q "event=leading" "$work"/r?.log || fail "no leader within 10 s"

TB_ADDRESS=4720,4721,4722 timeout 120 node "$suite" >"$work/suite.out" 2>&1
passed=$(grep -c ': PASSED$' "$work/suite.out")
grep -v ': PASSED$' "$work/suite.out" | head -n 20
[ "$passed" -eq 27 ] || fail "$passed tests passed against the cluster, expected 27"

sleep 1 # the followers learn the last commit index with the next heartbeats
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for index in 0 1 2; do
    wait "${pids[$index]}" || fail "replica $index did not stop cleanly"
done
pids=()
for index in 0 1 2; do
    "$KHORGOS" inspect --data "$work/r$index" >"$work/inspect$index" || fail "inspect r$index"
done
for index in 1 2; do
    cmp -s "$work/inspect0" "$work/inspect$index" || fail "r0's and r$index's journals differ"
done
echo "ok: tigerbeetle-node 0.17.9 suite: 27 passed against 3 replicas;" \
    "$(($(wc -l <"$work/inspect0") - 2)) journal records alike on each"
