#!/bin/bash
# cluster_repair.sh: a replica whose disk was lost is replaced by a fresh one that catches up
# from the leader's snapshot (docs/replication.md, "Replacing a replica whose data was lost").
# Three replicas, each taking a raft snapshot once 64 KiB of entries were applied since its
# last (`start --snapshot-log-bytes 65536`), take about 100 KiB of transfers: every replica
# snapshots and compacts its raft log past its first entries. A follower is SIGKILLed and its
# data directory deleted; writes go on on the other two. A fresh directory formatted as the
# next generation of that index (read from `khorgos status`'s configuration) is started and
# `khorgos cluster add` makes it a voter: the leader's log no longer holds what it needs, so
# it must install the leader's snapshot (khorgos_cluster_snapshots_installed_total on its
# /metrics at least 1; 1 measured) and then catch up from the log (lag 0). A follower drops a
# membership request unanswered and the leader answers the same message. Then the leader, an
# original replica, is SIGKILLed: the replacement and the last original replica elect a
# leader and writes still commit, so the replacement votes and holds the log. At the end the
# two have equal chain heads, neither stopped on a digest check, each holds every acknowledged
# transfer once, and the replacement's journal starts at the snapshot it installed (`check
# --from-genesis` fails). --snapshot-log-bytes is refused without --replica and below its
# minimum (exit 2).
# Client ports 5800-5802, raft ports 6800-6802, HTTP ports 5810-5812.
. "$(dirname "$0")/support/server_test.sh"
. "$(dirname "$0")/support/cluster_test.sh"

addresses=127.0.0.1:5800,127.0.0.1:5801,127.0.0.1:5802
http=127.0.0.1:5810,127.0.0.1:5811,127.0.0.1:5812
root=$(cd "$(dirname "$0")/.." && pwd)
pids=(0 0 0)
trap cleanup_cluster EXIT

format() { # INDEX GENERATION
    "$KHORGOS" format --data "$work/r$1" --cluster 7 --replica "$1" --replica-count 3 \
        --generation "$2" >/dev/null || fail "format r$1"
}
start() { # INDEX
    "$KHORGOS" start --data "$work/r$1" --addresses "$addresses" --replica "$1" \
        --snapshot-log-bytes 65536 --http "127.0.0.1:$((5810 + $1))" 2>>"$work/r$1.log" &
    pids[$1]=$!
}
metric() { # INDEX NAME: the value of a replica's /metrics sample NAME
    curl -s --max-time 5 "http://127.0.0.1:$((5810 + $1))/metrics" | sed -n "s/^$2 //p"
}
transfers() { # FIRST LAST DEBIT CREDIT EVENTS_PER_REQUEST: one request a line
    local id line=
    for ((id = $1; id <= $2; id++)); do
        line+="${line:+,}{\"id\":\"$id\",\"debit_account_id\":\"$3\",\"credit_account_id\":\"$4\",\
\"amount\":\"5\",\"ledger\":398,\"code\":1}"
        if (((id - $1 + 1) % $5 == 0 || id == $2)); then
            echo "{\"op\":\"create_transfers\",\"events\":[$line]}"
            line=
        fi
    done
}
client() { # INPUT OUTPUT COUNT: every event of INPUT acknowledged created
    "$KHORGOS" client --addresses "$addresses" --cluster 7 --timeout 30 <"$1" >"$2" \
        2>>"$work/client.err" || fail "client: $(cat "$work/client.err")"
    [ "$(grep -o '"status":"created"' "$2" | wc -l)" -eq "$3" ] || fail "$1: $(head -c 600 "$2")"
}
leader() { # the replica that said it leads the highest term
    grep -h "event=leading" "$work"/r*.log | sed 's/.*replica=\([0-9]\) term=\([0-9]*\).*/\2 \1/' |
        sort -n | tail -n 1 | cut -d' ' -f2
}

for arguments in "--snapshot-log-bytes 65536" "--addresses $addresses --replica 0 \
--snapshot-log-bytes 65535"; do
    format 0 0
    # shellcheck disable=SC2086
    "$KHORGOS" start --data "$work/r0" $arguments 2>"$work/refused.log"
    status=$?
    [ "$status" -eq 2 ] || fail "start $arguments: exit $status, expected 2"
    grep -q "snapshot-log-bytes" "$work/refused.log" || fail "$(cat "$work/refused.log")"
    rm -rf "$work/r0"
done

for index in 0 1 2; do format "$index" 0; done
for index in 0 1 2; do start "$index"; done
{
    echo '{"op":"create_accounts","events":[{"id":"1","ledger":398,"code":1},{"id":"2","ledger":398,"code":1},{"id":"3","ledger":398,"code":1},{"id":"4","ledger":398,"code":1}]}'
    transfers 1000 1799 3 4 200 # 4 entries of about 26 KiB
} >"$work/in1"
client "$work/in1" "$work/out1" 804
# Every replica took a snapshot and compacted its raft log.
for index in 0 1 2; do
    for _ in $(seq 1 50); do
        taken=$(metric "$index" khorgos_cluster_snapshots_taken_total)
        [ "${taken:-0}" -ge 1 ] && break
        sleep 0.1
    done
    [ "${taken:-0}" -ge 1 ] || fail "replica $index took no snapshot"
done

# A follower's disk is lost; the other two go on.
first=$(leader)
victim=$(((first + 1) % 3))
kill -9 "${pids[$victim]}"
wait "${pids[$victim]}" 2>/dev/null
pids[victim]=0
rm -rf "$work/r$victim"
transfers 100 119 1 2 10 >"$work/in2"
client "$work/in2" "$work/out2" 20

# Its replacement: a fresh directory of the next generation under the same index, the
# generation read from the configuration `khorgos status` shows.
"$KHORGOS" status --addresses $http >"$work/status"
grep "^configuration:" "$work/status" | grep -q "replica $victim generation 0 voter" ||
    fail "the configuration: $(cat "$work/status")"
format "$victim" 1
start "$victim"
"$KHORGOS" cluster add --addresses "$addresses" --cluster 7 --replica "$victim" \
    --generation 1 --timeout 30 >"$work/member.out" 2>&1 ||
    fail "cluster add: $(cat "$work/member.out")"
tail -n 1 "$work/member.out" | grep -q "replica=$victim generation=1 role=voter" ||
    fail "replace: $(cat "$work/member.out")"
installed=$(metric "$victim" khorgos_cluster_snapshots_installed_total)
[ "${installed:-0}" -ge 1 ] || fail "the replacement installed ${installed:-no answer}" \
    "snapshots, at least 1 expected: $(tail -n 3 "$work/r$victim.log")"
transfers 120 129 1 2 5 >"$work/in3"
client "$work/in3" "$work/out3" 10
caught_up "$http" 3

# A membership request on the wire: a follower drops it, the leader answers the same bytes.
serving=$(sed -n 's/^leader: replica \([0-2]\), term [0-9]*$/\1/p' "$work/status")
follower=$(((serving + 1) % 3))
PYTHONPATH="$root/clients/python" python3 - "$((5800 + follower))" "$((5800 + serving))" \
    "$victim" <<'PYTHON' || fail "membership on the wire"
import socket, struct, sys
import khorgos
from khorgos import client
session = khorgos.Client(["127.0.0.1:5800", "127.0.0.1:5801", "127.0.0.1:5802"], cluster_id=7,
                         timeout=30)
session.lookup_accounts([1])  # registered through the leader
body = struct.pack("<IIII", 1, int(sys.argv[3]), 1, 0)  # add (victim, 1): already so
message = client.request_message(7, session.id, session.session, session.parent,
                                 session.number + 1, 244, body)
def answer(port, seconds):
    connection = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    connection.sendall(message)
    connection.settimeout(seconds)
    reply = b""
    try:
        while len(reply) < 256:
            chunk = connection.recv(4096)
            if not chunk:
                break
            reply += chunk
    except socket.timeout:
        pass
    connection.close()
    return reply
dropped = answer(sys.argv[1], 1.0)
if dropped:
    sys.exit(f"follower {sys.argv[1]} answered {len(dropped)} bytes")
reply = answer(sys.argv[2], 5.0)
if len(reply) < 256 + 16 or reply[237] != 0 or struct.unpack_from("<I", reply, 256)[0] != 0:
    sys.exit(f"the leader's reply: {reply[:300].hex()}")
session.close()
PYTHON

# The leader, an original replica, dies: the replacement is one of the two left, and writes
# still commit, so it votes and holds the log.
kill -9 "${pids[$serving]}"
wait "${pids[$serving]}" 2>/dev/null
pids[serving]=0
transfers 130 149 1 2 4 >"$work/in4"
client "$work/in4" "$work/out4" 20
survivors=$(echo 0 1 2 | tr ' ' '\n' | grep -v -x "$serving" | tr '\n' ' ')
for index in $survivors; do
    [ "$(metric "$index" khorgos_cluster_stopped)" = 0 ] || fail "replica $index stopped"
done
for index in $survivors; do
    kill "${pids[$index]}"
    wait "${pids[$index]}"
    pids[index]=0
done
grep -h "event=replica_stopped" "$work"/r*.log && fail "a replica stopped"
heads=$(for index in $survivors; do
    "$KHORGOS" check --data "$work/r$index" >"$work/check$index" || fail "check r$index"
    grep -e "chain head" -e "last sequence" "$work/check$index" | sed 's/.*last sequence/last/'
done | sort -u | wc -l)
# One chain head and one last sequence: the replacement's counts the snapshot it installed.
[ "$heads" -eq 2 ] || fail "other chain heads or last sequences: $(cat "$work"/check*)"
for index in $survivors; do transfers_applied "$work/r$index"; done
# The replacement's journal starts at the snapshot it installed.
"$KHORGOS" check --data "$work/r$victim" --from-genesis >"$work/genesis" 2>&1 &&
    fail "the replacement's journal goes back to request 1: $(cat "$work/genesis")"
grep -q "the chain can be proved only from request" "$work/genesis" || fail "$(cat "$work/genesis")"
echo "ok: replica $victim replaced by generation 1 from the leader's snapshot" \
    "($installed installed)," \
    "leader $serving killed, writes committed on replicas $survivors; chain heads equal"
