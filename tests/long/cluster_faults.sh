#!/bin/bash
# cluster_faults.sh (make test-long): the fault harness and checker
# (tests/support/cluster_faults.py) in a long run on three replicas: SIGKILL and SIGSTOP of the
# leader and of followers, restarts, crashes of all three at once, a follower's raft log tail
# corrupted (refused at start, then replaced), a replica's directory deleted (replaced) and, as
# root, network partitions (each replica in its own network namespace joined by a veth link to
# a bridge; a partition sets one link down; the links go through stunnel with replica
# certificates). Not
# root: the partitions are skipped, with a message. CLUSTER_FAULTS_SECONDS sets each run's time
# of faults (default 300).
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
status=0
$harness --work "$work/loopback" --replicas 3 --clients 6 --requests 100 \
    --seconds "$SECONDS_FAULTS" --gap 2 --port 4739 --seed 2 || status=1
$harness --work "$work/netns" --replicas 3 --clients 6 --requests 100 \
    --seconds "$SECONDS_FAULTS" --gap 2 --port 4742 --seed 3 --netns || status=1
[ $status -eq 0 ] && echo "ok"
exit $status
