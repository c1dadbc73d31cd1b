#!/bin/bash
# cluster_leader.sh: clients follow the leader (docs/replication.md, "Clients"). Replica 2 is
# made the leader (raft election timeout 100 ms against 1,000 ms for the others), so that a
# client given the addresses in replica order meets two followers first. A follower answers a
# ping with a pong whose view names the leader and whose replica field names itself (checked
# on the wire), so `khorgos client` and the Python client each reach the leader and have a
# request answered within 1.5 s (a client that waited 3 x 1 s per follower would take 6 s), and so
# does `khorgos client` given the addresses out of replica order (it learns each address's
# replica from the replica field). The leader is then SIGKILLed and a client's next request is
# acknowledged by the new leader, loosely bounded (5 s) for a loaded machine; with a second
# replica killed the last one knows no leader and answers no ping. --election-timeout-ms is
# refused without --replica and out of range (exit 2).
# Client ports 5310-5312, raft ports 6310-6312.
. "$(dirname "$0")/support/server_test.sh"
. "$(dirname "$0")/support/cluster_test.sh"

addresses=127.0.0.1:5310,127.0.0.1:5311,127.0.0.1:5312
root=$(cd "$(dirname "$0")/.." && pwd)
pids=(0 0 0)
trap cleanup_cluster EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }

for index in 0 1 2; do
    "$KHORGOS" format --data "$work/r$index" --cluster 7 --replica "$index" \
        --replica-count 3 >/dev/null || fail "format r$index"
done
for arguments in "--election-timeout-ms 500" "--addresses $addresses --replica 0 \
--election-timeout-ms 99" "--addresses $addresses --replica 0 --election-timeout-ms 60001"; do
    # shellcheck disable=SC2086
    "$KHORGOS" start --data "$work/r0" $arguments 2>"$work/refused.log"
    status=$?
    [ "$status" -eq 2 ] || fail "start $arguments: exit $status, expected 2"
    grep -q "election-timeout-ms" "$work/refused.log" || fail "$(cat "$work/refused.log")"
done

for index in 0 1 2; do
    timeout_ms=1000
    [ "$index" = 2 ] && timeout_ms=100
    "$KHORGOS" start --data "$work/r$index" --addresses "$addresses" --replica "$index" \
        --election-timeout-ms "$timeout_ms" 2>>"$work/r$index.log" &
    pids[index]=$!
done
wait_for "$work/r2.log" "event=leading"
grep -q "event=leading" "$work/r0.log" "$work/r1.log" && fail "replica 2 was meant to lead"
wait_for "$work/r0.log" "replica=0 term=[0-9]* leader=2"
wait_for "$work/r1.log" "replica=1 term=[0-9]* leader=2"

# ping PORT EXPECT: a ping to PORT; EXPECT "pong-names-2": a pong whose view names replica 2
# (view mod 3) from replica 0; "silent": no answer within 1 s.
ping() {
    PYTHONPATH="$root/clients/python" python3 - "$1" "$2" <<'PYTHON' || fail "ping $1: $2"
import socket, struct, sys, time
from khorgos import client
connection = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
header = bytearray(client.HEADER_BYTES)
header[80:96] = (7).to_bytes(16, "little")
struct.pack_into("<IIIIHBB", header, 96, 256, 0, 0, client.RELEASE, 0,
                 client.COMMAND_PING_CLIENT, 0)
header[128:144] = (12345).to_bytes(16, "little")
struct.pack_into("<QQ", header, 144, time.monotonic_ns(), 0)
connection.sendall(client.seal(header, b""))
connection.settimeout(1.0 if sys.argv[2] == "silent" else 5.0)
pong = b""
try:
    while len(pong) < 256:
        chunk = connection.recv(256 - len(pong))
        if not chunk:
            break
        pong += chunk
except socket.timeout:
    pass
if sys.argv[2] == "silent":
    sys.exit(f"answered: {len(pong)} bytes" if pong else 0)
view = struct.unpack_from("<I", pong, 104)[0]
if pong[114] != client.COMMAND_PONG_CLIENT or view % 3 != 2 or pong[115] != 0:
    sys.exit(f"command {pong[114]}, view {view}, replica {pong[115]}")
PYTHON
}
# On the wire: replica 0's pong names replica 2, and carries its own index.
ping 5310 pong-names-2

echo '{"op":"create_accounts","events":[{"id":"1","ledger":398,"code":1},{"id":"2","ledger":398,"code":1}]}' \
    >"$work/in1"
started=$(now_ms)
"$KHORGOS" client --addresses "$addresses" --cluster 7 --timeout 30 <"$work/in1" \
    >"$work/out1" 2>"$work/client.err" || fail "client: $(cat "$work/client.err")"
c_ms=$(($(now_ms) - started))
[ "$(grep -o '"status":"created"' "$work/out1" | wc -l)" -eq 2 ] || fail "$(cat "$work/out1")"
[ "$c_ms" -lt 1500 ] || fail "khorgos client took $c_ms ms to reach the leader (bound 1,500)"
# Given out of replica order, the client learns which address is which replica from the
# messages' replica field: replica 1, then replica 0 (guessed for 2), then replica 2.
echo '{"op":"lookup_accounts","ids":["1"]}' >"$work/in_rotated"
started=$(now_ms)
"$KHORGOS" client --addresses 127.0.0.1:5311,127.0.0.1:5312,127.0.0.1:5310 --cluster 7 \
    --timeout 30 <"$work/in_rotated" >"$work/out_rotated" 2>"$work/client.err" ||
    fail "client: $(cat "$work/client.err")"
rotated_ms=$(($(now_ms) - started))
grep -q '"id":"1"' "$work/out_rotated" || fail "$(cat "$work/out_rotated")"
[ "$rotated_ms" -lt 1500 ] || fail "out of order, khorgos client took $rotated_ms ms (bound 1,500)"

cat >"$work/follow.py" <<'PYTHON'
import time
import khorgos
started = time.monotonic()
with khorgos.Client(["127.0.0.1:5310", "127.0.0.1:5311", "127.0.0.1:5312"], cluster_id=7,
                    timeout=30) as session:
    results = session.create_accounts([khorgos.Account(id=3, ledger=398, code=1)])
    assert [result.status for result in results] == [4294967295], results  # created
print(int((time.monotonic() - started) * 1000))
PYTHON
python_ms=$(PYTHONPATH="$root/clients/python" python3 "$work/follow.py") || fail "Python client"
[ "$python_ms" -lt 1500 ] || fail "the Python client took $python_ms ms (bound 1,500)"

kill -9 "${pids[2]}"
wait "${pids[2]}" 2>/dev/null
pids[2]=0
killed=$(now_ms)
echo '{"op":"create_transfers","events":[{"id":"10","debit_account_id":"1","credit_account_id":"2","amount":"5","ledger":398,"code":1}]}' \
    >"$work/in2"
"$KHORGOS" client --addresses "$addresses" --cluster 7 --timeout 30 <"$work/in2" \
    >"$work/out2" 2>"$work/client.err" || fail "client: $(cat "$work/client.err")"
failover_ms=$(($(now_ms) - killed))
grep -q '"status":"created"' "$work/out2" || fail "after the kill: $(cat "$work/out2")"
[ "$failover_ms" -lt 5000 ] || fail "the leader's kill to an acknowledgement: $failover_ms ms"
# Replica 1 killed too: replica 0, alone, soon knows no leader and answers no ping.
kill -9 "${pids[1]}"
wait "${pids[1]}" 2>/dev/null
pids[1]=0
leaderless=$(grep -c "replica=0 term=[0-9]* leader=-1" "$work/r0.log")
for _ in $(seq 1 100); do
    [ "$(grep -c "replica=0 term=[0-9]* leader=-1" "$work/r0.log")" -gt "$leaderless" ] && break
    sleep 0.1
done
[ "$(grep -c "replica=0 term=[0-9]* leader=-1" "$work/r0.log")" -gt "$leaderless" ] ||
    fail "replica 0 alone still names a leader: $(tail -n 3 "$work/r0.log")"
ping 5310 silent
kill "${pids[0]}"
wait "${pids[0]}" || fail "replica 0 did not stop cleanly"
pids[0]=0
echo "ok: past two followers to the leader: khorgos client $c_ms ms (out of replica order" \
    "$rotated_ms ms), Python $python_ms ms;" \
    "the leader killed, a write acknowledged $failover_ms ms later"
