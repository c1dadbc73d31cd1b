#!/bin/bash
# cluster_status.sh: `khorgos status` reads each replica's /metrics (the khorgos_cluster_*
# gauges). A single node answers as standalone (exit 0); an address that does not answer is
# named with its cause (exit 1); bad options are usage errors (exit 2). With `khorgos start
# --replica`: three replicas agree on one leader, every one's lag reaches 0 after writes, and
# after the leader is killed the other two name a new leader of a higher term.
. "$(dirname "$0")/support/server_test.sh"
. "$(dirname "$0")/support/cluster_test.sh"
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
# Three replicas, clients on 4747-4749 (raft's ports 1000 above), HTTP on 4755-4757.
addresses=127.0.0.1:4747,127.0.0.1:4748,127.0.0.1:4749
http=127.0.0.1:4755,127.0.0.1:4756,127.0.0.1:4757
pids=()
cleanup_replicas() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done; }
trap 'cleanup_replicas; rm -rf "$work"' EXIT
for index in 0 1 2; do
    "$KHORGOS" format --data "$work/r$index" --cluster 7 --replica $index --replica-count 3 \
        >/dev/null || fail "format replica $index"
    "$KHORGOS" start --data "$work/r$index" --addresses $addresses --replica $index \
        --http 127.0.0.1:$((4755 + index)) 2>"$work/r$index.log" &
    pids[$index]=$!
done
# Until all three answer with one of them leading: `status` reads the replicas one after
# another, so during the election one may still show no leader while another names the winner.
for _ in $(seq 100); do
    "$KHORGOS" status --addresses $http >"$work/status" &&
        [ "$(awk '$3 == "leader"' "$work/status" | wc -l)" -eq 1 ] && break
    sleep 0.1
done
grep -q "^leader: replica [0-2], term [1-9]" "$work/status" ||
    fail "no leader: $(cat "$work/status")"
[ "$(awk '$3 == "leader"' "$work/status" | wc -l)" -eq 1 ] ||
    fail "not one leader: $(cat "$work/status")"
echo '{"op":"create_accounts","events":[{"id":"1","ledger":840,"code":1}]}' |
    "$KHORGOS" client --addresses $addresses --cluster 7 --timeout 20 | grep -q created ||
    fail "a write through the cluster"
caught_up "$http" 3 # every replica applies it: lag 0 everywhere
leader=$(sed -n 's/^leader: replica \([0-2]\), term \([0-9]*\)$/\1/p' "$work/status")
term=$(sed -n 's/^leader: replica [0-2], term \([0-9]*\)$/\1/p' "$work/status")
kill -9 "${pids[$leader]}"
for _ in $(seq 150); do # the two others elect a leader of a higher term
    "$KHORGOS" status --addresses $http >"$work/status"
    new=$(sed -n 's/^leader: replica \([0-2]\), term \([0-9]*\)$/\1 \2/p' "$work/status")
    [ -n "$new" ] && [ "${new% *}" != "$leader" ] && break
    sleep 0.1
done
[ -n "$new" ] && [ "${new% *}" != "$leader" ] && [ "${new#* }" -gt "$term" ] ||
    fail "no new leader after the leader's SIGKILL: $(cat "$work/status")"
grep -q "^- .*no answer: connect: Connection refused" "$work/status" ||
    fail "the killed replica is not named: $(cat "$work/status")"
"$KHORGOS" status --addresses $http >/dev/null; [ $? -eq 1 ] || fail "a replica down: exit 1"
echo "ok: leader $leader (term $term) killed; replica ${new% *} leads term ${new#* }"
