#!/bin/bash
# cluster_faults.sh (make test-long): the fault harness and checker
# (tests/support/cluster_faults.py) in a long run on three replicas: SIGKILL and SIGSTOP of the
# leader and of followers, restarts, crashes of all three at once, a follower's raft log tail
# corrupted (refused at start, then replaced), a replica's directory deleted (replaced) and, as
# root, network partitions (each replica in its own network namespace joined by a veth link to
# a bridge; a partition sets one link down; the links go through stunnel with replica
# certificates). Not
# root: the partitions are skipped, with a message. CLUSTER_FAULTS_SECONDS sets each run's time
# of faults (default 300). CLUSTER_FAULTS_PORT sets the first client port (default 4739): the
# loopback run takes it and the five after it, the network-namespace run the three from
# CLUSTER_FAULTS_PORT + 3; raft's ports are each client port plus 1000. CLUSTER_FAULTS_WORK
# names a directory for the replicas' data and logs, kept after the run (default: a temporary
# one, deleted). CLUSTER_FAULTS_SEED (default 2) seeds the loopback run's draws of faults,
# victims and pauses, and the network-namespace run's with one more: the defaults repeat the
# same series, another seed draws others.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
if ! "$KHORGOS" start --replica 9 2>&1 | grep -q "replica index"; then
    echo "skip: khorgos start has no --replica"
    exit 0
fi
if [ -n "${CLUSTER_FAULTS_WORK:-}" ]; then # kept, for the replicas' logs
    work=$CLUSTER_FAULTS_WORK
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
harness="python3 $(dirname "$0")/../support/cluster_faults.py --khorgos $KHORGOS"
SECONDS_FAULTS=${CLUSTER_FAULTS_SECONDS:-300}
PORT=${CLUSTER_FAULTS_PORT:-4739}
SEED=${CLUSTER_FAULTS_SEED:-2}
status=0
# 300 s of six clients submit some 100,000 to 150,000 payments; format's default keeps 131,072.
harness="$harness --payments 524288"
$harness --work "$work/loopback" --replicas 3 --clients 6 --requests 100 \
    --seconds "$SECONDS_FAULTS" --gap 2 --port "$PORT" --seed "$SEED" || status=1
$harness --work "$work/netns" --replicas 3 --clients 6 --requests 100 \
    --seconds "$SECONDS_FAULTS" --gap 2 --port $((PORT + 3)) --seed $((SEED + 1)) --netns || status=1
[ $status -eq 0 ] && echo "ok"
exit $status
