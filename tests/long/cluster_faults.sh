#!/bin/bash
# cluster_faults.sh (make test-long): the fault harness and checker
# (tests/support/cluster_faults.py) in a long run on three replicas: SIGKILL and SIGSTOP of the
# leader and of followers, restarts, a follower's raft log tail corrupted and, as root, network
# partitions (each replica in its own network namespace joined by a veth link to a bridge; a
# partition sets one link down). Not root: the partitions are skipped, with a message.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
if ! "$KHORGOS" start --replica 9 2>&1 | grep -q "replica index"; then
    echo "skip: khorgos start has no --replica"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
harness="python3 $(dirname "$0")/../support/cluster_faults.py --khorgos $KHORGOS"
SECONDS_FAULTS=${CLUSTER_FAULTS_SECONDS:-300}
$harness --work "$work/loopback" --replicas 3 --clients 6 --requests 100 \
    --seconds "$SECONDS_FAULTS" --gap 2 --port 4733 --seed 2 || exit 1
$harness --work "$work/netns" --replicas 3 --clients 6 --requests 100 \
    --seconds "$SECONDS_FAULTS" --gap 2 --port 4736 --seed 3 --netns || exit 1
echo "ok"
