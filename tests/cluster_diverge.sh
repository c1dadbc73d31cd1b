#!/bin/bash
# cluster_diverge.sh: a replica whose state departs from the leader's stops, says so and exits
# (docs/replication.md, "Digests compared at leader-chosen points"). Replica 2 is formatted with
# room for 2 accounts where the others have the default, and started after replicas 0 and 1
# elected a leader among them; a request creating 3 accounts is refused there (capacity_full)
# and applied elsewhere. At the leader's next digest check (within about 2 s) replica 2 logs
# event=replica_stopped error=diverged and exits 1, while the other two go on serving.
# Client ports 4713-4715, raft 5713-5715.
. "$(dirname "$0")/support/server_test.sh"

addresses=127.0.0.1:4713,127.0.0.1:4714,127.0.0.1:4715
pids=(0 0 0)
cleanup_cluster() {
    for pid in "${pids[@]}"; do [ "$pid" != 0 ] && kill -9 "$pid" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup_cluster EXIT
start() { # INDEX
    "$KHORGOS" start --data "$work/r$1" --addresses "$addresses" --replica "$1" \
        2>"$work/r$1.log" &
    pids[$1]=$!
}

for index in 0 1 2; do
    capacity=()
    [ "$index" = 2 ] && capacity=(--accounts 2)
    "$KHORGOS" format --data "$work/r$index" --cluster 7 --replica "$index" \
        --replica-count 3 "${capacity[@]}" >/dev/null || fail "format r$index"
done
start 0
start 1
for ((tries = 0; tries < 100; tries++)); do
    grep -q "event=leading" "$work/r0.log" "$work/r1.log" && break
    sleep 0.1
done
grep -q "event=leading" "$work/r0.log" "$work/r1.log" || fail "no leader within 10 s"
start 2
for ((tries = 0; tries < 300; tries++)); do # slowly under a sanitizer
    grep -q "event=serving" "$work/r2.log" && break
    sleep 0.1
done
grep -q "event=serving" "$work/r2.log" || fail "replica 2 did not start"

accounts='{"op":"create_accounts","events":[{"id":"1","ledger":398,"code":1},{"id":"2","ledger":398,"code":1},{"id":"3","ledger":398,"code":1}]}'
echo "$accounts" | "$KHORGOS" client --addresses "$addresses" --cluster 7 --timeout 20 \
    >"$work/out" 2>"$work/client.err" || fail "client: $(cat "$work/client.err")"
[ "$(grep -o '"status":"created"' "$work/out" | wc -l)" -eq 3 ] || fail "$(cat "$work/out")"

for ((tries = 0; tries < 200; tries++)); do
    kill -0 "${pids[2]}" 2>/dev/null || break
    sleep 0.1
done
kill -0 "${pids[2]}" 2>/dev/null && fail "replica 2 still runs 20 s after it diverged"
wait "${pids[2]}"
status=$?
pids[2]=0
[ "$status" -eq 1 ] || fail "replica 2 exited $status, expected 1"
grep -q "event=replica_stopped replica=2 error=diverged" "$work/r2.log" ||
    fail "replica 2 did not say why: $(tail -n 3 "$work/r2.log")"
grep "event=replica_stopped" "$work/r2.log"
echo '{"op":"lookup_accounts","ids":["3"]}' |
    "$KHORGOS" client --addresses "$addresses" --cluster 7 --timeout 20 >"$work/out2" \
    2>"$work/client.err" || fail "client after the divergence: $(cat "$work/client.err")"
grep -q '"id":"3"' "$work/out2" || fail "the majority lost account 3: $(cat "$work/out2")"
for index in 0 1; do
    kill -TERM "${pids[$index]}" 2>/dev/null || fail "replica $index stopped"
    wait "${pids[$index]}" || fail "replica $index did not stop cleanly"
    pids[index]=0
done
echo "ok: the replica that refused what the others applied stopped with diverged (exit 1);" \
    "the other two go on"
