#!/bin/bash
# cluster_faults.sh (make test): the fault harness and checker, tests/support/cluster_faults.py,
# in a short run. Clients send transfers and settlement payments with retries while the test
# SIGKILLs and SIGSTOPs replicas (leader and followers) and restarts them, SIGKILLs all three at
# once (a crash of the whole cluster) and restarts them, flips bytes at the
# tail of a follower's raft log (it must refuse to start, and is replaced by a fresh directory
# of the next generation with `khorgos cluster add`) and deletes a replica's directory (it is
# replaced too), each fault bounded in time; then every acknowledged request
# must be present once, every currency conserved, the replicas' journals equal, and no term
# have two leaders. First the checker's own test: a run that goes back to a mid-run copy must
# be caught losing acknowledged requests. As root, a single node in a network namespace behind
# the TLS sidecars (raft's port must take a replica certificate and refuse an operator's) with
# partitions. A three-replica run needs `khorgos start --replica`; the long runs are in
# make test-long (tests/long/cluster_faults.sh).
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
harness="python3 $(dirname "$0")/support/cluster_faults.py --khorgos $KHORGOS"

# The checker sees a loss: the node goes back to a copy taken mid-run.
out=$($harness --work "$work/lose" --replicas 1 --clients 2 --requests 30 --seconds 3 \
    --gap 1 --port 4750 --lose 2>&1)
status=$?
echo "$out" | tail -1
if [ $status -eq 0 ] || ! echo "$out" | grep -q "lost: [1-9]"; then
    echo "FAIL: the checker did not see acknowledged requests lost"
    echo "$out" | tail -5
    exit 1
fi

# A single node killed and stopped under traffic loses nothing.
$harness --work "$work/single" --replicas 1 --clients 3 --requests 40 --seconds 4 --gap 1 \
    --port 4752 || exit 1

if [ "$(id -u)" -eq 0 ] && command -v stunnel >/dev/null; then
    $harness --work "$work/netns" --replicas 1 --clients 2 --requests 30 --seconds 4 --gap 1 \
        --port 4754 --seed 5 --netns || exit 1
else
    echo "skip: partitions in network namespaces (they need root and stunnel)"
fi

if ! "$KHORGOS" start --replica 9 2>&1 | grep -q "replica index"; then
    echo "skip: the three-replica run (khorgos start has no --replica)"
    exit 0
fi
# Each kind in turn: a kill, a stop, a crash of all three, a follower's raft log tail flipped
# (refused at start, then replaced) and a replica's directory deleted (replaced). The replicas
# compact their raft logs every 64 KiB of entries, so leaders take snapshots under the traffic
# and a replacement catches up from the leader's: both must be seen on /metrics.
out=$($harness --work "$work/three" --replicas 3 --clients 3 --requests 20 --seconds 18 \
    --gap 1.5 --port 4730 --faults kill,stop,crash,corrupt,wipe --cycle --grace 3 \
    --start-option=--snapshot-log-bytes --start-option=65536 2>&1)
status=$?
echo "$out" | tail -1
if [ $status -ne 0 ]; then
    echo "$out" | tail -20
    exit 1
fi
if ! echo "$out" | tail -1 | grep -q "snapshots taken [1-9][0-9]* and installed [1-9]"; then
    echo "FAIL: no raft snapshot taken and installed under the faults"
    exit 1
fi
echo "ok"
