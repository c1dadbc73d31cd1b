#!/bin/bash
# cluster_start.sh: a three-replica cluster on loopback (docs/replication.md, "Running three
# replicas"). Three directories formatted as replicas 0, 1 and 2 of cluster 7 serve; `khorgos
# client --addresses A0,A1,A2` creates accounts and transfers through the leader; the leader is
# SIGKILLed, the other two elect a new one and the client's next requests succeed (the client
# follows the view in the survivors' pongs); the killed replica restarts from its disks and
# catches up. Stopped, every replica's journal holds the same requests with the same
# timestamps and actors (`inspect` equal, `check` clean with the same chain head), and every
# acknowledged transfer is applied exactly once (account 1's debits are 5 per transfer).
# Before that, five wrong starts are refused with exit 2 and their reason, making nothing; and
# advance_clock is answered with clock_not_manual (a replica runs on the leader's clock).
# Last, a replica whose raft directory cannot be written is refused (exit 1), naming it.
# Client ports 4710-4712, raft ports 5710-5712.
. "$(dirname "$0")/support/server_test.sh"
. "$(dirname "$0")/support/cluster_test.sh"

addresses=127.0.0.1:4710,127.0.0.1:4711,127.0.0.1:4712
pids=(0 0 0)
cleanup_cluster() {
    for pid in "${pids[@]}"; do [ "$pid" != 0 ] && kill -9 "$pid" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup_cluster EXIT

start() { # INDEX
    "$KHORGOS" start --data "$work/r$1" --addresses "$addresses" --replica "$1" \
        2>>"$work/r$1.log" &
    pids[$1]=$!
}

# The index of the replica that logged leading last (after a time for the election), or fail.
leader() { # EXCLUDED-INDEX
    for _ in $(seq 1 100); do
        for index in 0 1 2; do
            [ "$index" = "$1" ] && continue
            [ -f "$work/leading$index" ] || continue
            if [ "$(grep -c "event=leading" "$work/r$index.log")" -gt \
                "$(cat "$work/leading$index")" ]; then
                echo "$index"
                return
            fi
        done
        sleep 0.1
    done
    fail "no leader within 10 s"
}
mark_logs() { for index in 0 1 2; do grep -c "event=leading" "$work/r$index.log" \
    >"$work/leading$index"; done; }

transfers() { # FIRST LAST
    for id in $(seq "$1" "$2"); do
        echo "{\"op\":\"create_transfers\",\"events\":[{\"id\":\"$id\",\"debit_account_id\":\"1\",\
\"credit_account_id\":\"2\",\"amount\":\"5\",\"ledger\":398,\"code\":1}]}"
    done
}
client() { # INPUT OUTPUT
    "$KHORGOS" client --addresses "$addresses" --cluster 7 --timeout 30 <"$1" >"$2" \
        2>>"$work/client.err" || fail "client: $(cat "$work/client.err")"
}

for index in 0 1 2; do
    "$KHORGOS" format --data "$work/r$index" --cluster 7 --replica "$index" \
        --replica-count 3 >/dev/null || fail "format r$index"
    : >"$work/r$index.log"
done
# Refused before serving (exit 2, the reason logged): another replica's directory, a count
# of addresses other than the cluster's, a single node's directory, --clock manual.
"$KHORGOS" format --data "$work/single" >/dev/null || fail "format single"
refuse() { # REASON DIR ARGUMENTS...
    local reason=$1 directory=$2
    shift 2
    "$KHORGOS" start --data "$directory" "$@" 2>"$work/refused.log"
    status=$?
    [ "$status" -eq 2 ] || fail "$*: exit $status, expected 2"
    grep -q "$reason" "$work/refused.log" || fail "$*: $(cat "$work/refused.log")"
}
refuse "replica 0's data directory, not replica 1's" "$work/r0" --addresses "$addresses" \
    --replica 1
refuse "names 2 addresses; the data directory.s cluster has 3" "$work/r0" --addresses 127.0.0.1:4710,127.0.0.1:4711 \
    --replica 0
refuse "a single node's data directory" "$work/single" --addresses "$addresses" --replica 0
refuse "leader's clock" "$work/r0" --addresses "$addresses" --replica 0 --clock manual
refuse "give --replica N too" "$work/r0" --addresses "$addresses"
[ ! -e "$work/r0/raft" ] || fail "a refused start made DIR/raft"

mark_logs
for index in 0 1 2; do start "$index"; done
first=$(leader none)

{
    echo '{"op":"advance_clock","seconds":1}' # refused: a replica runs on the leader's clock
    echo '{"op":"create_accounts","events":[{"id":"1","ledger":398,"code":1},{"id":"2","ledger":398,"code":1}]}'
    transfers 100 119
} >"$work/in1"
client "$work/in1" "$work/out1"
[ "$(grep -o '"status":"created"' "$work/out1" | wc -l)" -eq 22 ] || fail "before the kill: $(cat "$work/out1")"
grep -q '"error":{"code":"clock_not_manual"' "$work/out1" || fail "advance_clock: $(head -n 1 "$work/out1")"

mark_logs
kill -9 "${pids[$first]}"
wait "${pids[$first]}" 2>/dev/null
pids[first]=0
transfers 120 139 >"$work/in2"
started=$(date +%s%N)
client "$work/in2" "$work/out2"
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
[ "$(grep -o '"status":"created"' "$work/out2" | wc -l)" -eq 20 ] || fail "after the kill: $(cat "$work/out2")"
second=$(leader "$first")
[ "$second" != "$first" ] || fail "the killed replica still leads"

start "$first"
transfers 140 149 >"$work/in3"
client "$work/in3" "$work/out3"
[ "$(grep -o '"status":"created"' "$work/out3" | wc -l)" -eq 10 ] || fail "after the restart: $(cat "$work/out3")"
for _ in $(seq 1 300); do # restarted, it serves raft (slowly under a sanitizer)
    [ "$(grep -c "event=serving" "$work/r$first.log")" -ge 2 ] && break
    sleep 0.1
done
[ "$(grep -c "event=serving" "$work/r$first.log")" -ge 2 ] || fail "r$first did not restart"
# It catches up: every journal (read while the replicas run) reaches the leader's length.
records() { "$KHORGOS" inspect --data "$work/r$1" 2>/dev/null | wc -l; }
third=$((3 - first - second))
for _ in $(seq 1 300); do
    length=$(records "$second")
    [ "$(records "$first")" -ge "$length" ] && [ "$(records "$third")" -ge "$length" ] && break
    sleep 0.1
done
for index in 0 1 2; do kill "${pids[$index]}"; done
for index in 0 1 2; do
    wait "${pids[$index]}" || fail "replica $index did not stop cleanly: $(tail -n 3 "$work/r$index.log")"
    pids[index]=0
done

for index in 0 1 2; do
    "$KHORGOS" check --data "$work/r$index" >"$work/check$index" || fail "check r$index"
    "$KHORGOS" inspect --data "$work/r$index" >"$work/inspect$index" || fail "inspect r$index"
done
for index in 1 2; do
    cmp -s "$work/inspect0" "$work/inspect$index" || fail "r0 and r$index differ: \
$(diff "$work/inspect0" "$work/inspect$index" | head -n 5)"
    [ "$(grep "chain head" "$work/check0")" = "$(grep "chain head" "$work/check$index")" ] ||
        fail "r0 and r$index: other chain heads"
done
for index in 0 1 2; do transfers_applied "$work/r$index"; done
# A raft directory that cannot be written: refused at start (exit 1), naming it.
chmod a-w "$work/r0/raft"
"$KHORGOS" start --data "$work/r0" --addresses "$addresses" --replica 0 2>"$work/refused.log"
status=$?
chmod u+w "$work/r0/raft"
[ "$status" -eq 1 ] || fail "a read-only raft directory: exit $status, expected 1"
grep -q "error=io reason=\"$work/r0/raft: raft_init: .*is not writable" "$work/refused.log" ||
    fail "a read-only raft directory: $(cat "$work/refused.log")"
echo "ok: 3 replicas, leader $first killed, $second elected, 50 transfers acknowledged and" \
    "applied once on each, journals equal; the client's 20 requests across the failover" \
    "took ${elapsed_ms} ms"
