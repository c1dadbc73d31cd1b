#!/bin/bash
# cluster_membership.sh: membership and repair (docs/replication.md, "Membership"). A cluster
# of five slots whose first configuration is replicas 0, 1 and 2 takes transfers; a follower
# whose raft log's last batch is damaged refuses to start (corrupt, naming the file and the
# offset); its directory is formatted afresh as generation 1 and `khorgos cluster add` makes it
# a voter in place of generation 0, caught up from the leader (generation 0 asked for again is
# refused, invalid_argument); replica 3 is added as a fourth voter and the leader removed (it
# hands its leadership on first), which, left running, elects no one; every acknowledged
# transfer is on every member once and their journals are equal. Only the operator may ask; a
# single node refuses (invalid_operation).
# Client ports 5220-5224, raft ports 6220-6224, HTTP ports 5230-5234.
. "$(dirname "$0")/support/server_test.sh"
. "$(dirname "$0")/support/cluster_test.sh"

addresses=127.0.0.1:5220,127.0.0.1:5221,127.0.0.1:5222,127.0.0.1:5223,127.0.0.1:5224
pids=(0 0 0 0 0)
trap cleanup_cluster EXIT

format() { # INDEX GENERATION
    rm -rf "$work/r$1"
    "$KHORGOS" format --data "$work/r$1" --cluster 7 --replica "$1" --replica-count 5 \
        --voters 3 --generation "$2" >/dev/null || fail "format r$1"
}
start() { # INDEX
    "$KHORGOS" start --data "$work/r$1" --addresses "$addresses" --replica "$1" \
        --http "127.0.0.1:$((5230 + $1))" 2>>"$work/r$1.log" &
    pids[$1]=$!
}
stop() { # INDEX
    kill "${pids[$1]}" 2>/dev/null
    wait "${pids[$1]}" 2>/dev/null
    pids[$1]=0
}
transfers() { # FIRST LAST
    for id in $(seq "$1" "$2"); do
        echo "{\"op\":\"create_transfers\",\"events\":[{\"id\":\"$id\",\"debit_account_id\":\"1\",\
\"credit_account_id\":\"2\",\"amount\":\"5\",\"ledger\":398,\"code\":1}]}"
    done
}
leader() { # the replica that said it leads the highest term
    grep -h "event=leading" "$work"/r*.log | sed 's/.*replica=\([0-9]\) term=\([0-9]*\).*/\2 \1/' |
        sort -n | tail -n 1 | cut -d' ' -f2
}
# Clients get the addresses in replica order, as the replicas do (docs/replication.md,
# "Clients"), and follow the leader from the views in pongs.
client() { # INPUT OUTPUT COUNT
    "$KHORGOS" client --addresses "$addresses" --cluster 7 --timeout 60 <"$1" >"$2" \
        2>>"$work/client.err" || fail "client: $(cat "$work/client.err")"
    [ "$(grep -o '"status":"created"' "$2" | wc -l)" -eq "$3" ] || fail "$1: $(cat "$2")"
}
member() { # ACTION INDEX [GENERATION]
    "$KHORGOS" cluster "$1" --addresses "$addresses" --cluster 7 --replica "$2" \
        ${3:+--generation "$3"} --timeout 60 >"$work/member.out" 2>&1 ||
        fail "cluster $*: $(cat "$work/member.out")"
    tail -n 1 "$work/member.out"
}

# Only the operator may ask (a TLS single node: an auditor's certificate is refused with
# forbidden), and a single node has no membership (invalid_operation).
ca=$work/ca
sh "$(dirname "$0")/../scripts/dev-ca.sh" "$ca" operator auditor >/dev/null || fail "dev-ca.sh"
"$KHORGOS" format --data "$work/single" --cluster 7 >/dev/null || fail "format single"
"$KHORGOS" start --data "$work/single" --addresses 127.0.0.1:5224 --tls-cert "$ca/server.crt" \
    --tls-key "$ca/server.key" --tls-ca "$ca/ca.crt" 2>"$work/single.log" &
pids[4]=$!
wait_for "$work/single.log" "event=serving"
for role in auditor operator; do
    "$KHORGOS" cluster add --addresses 127.0.0.1:5224 --cluster 7 --replica 1 --timeout 5 \
        --tls-cert "$ca/$role.crt" --tls-key "$ca/$role.key" --tls-ca "$ca/ca.crt" \
        >"$work/single.out" 2>&1 && fail "a single node took the $role's membership request"
done
grep -q "(invalid_operation)" "$work/single.out" || fail "operator: $(cat "$work/single.out")"
grep -q "event=membership_refused .*error=forbidden" "$work/single.log" ||
    fail "auditor: $(grep membership "$work/single.log")"
stop 4

for index in 0 1 2; do format "$index" 0; done
for index in 0 1 2; do start "$index"; done
{
    echo '{"op":"create_accounts","events":[{"id":"1","ledger":398,"code":1},{"id":"2","ledger":398,"code":1}]}'
    transfers 100 119
} >"$work/in1"
client "$work/in1" "$work/out1" 22

# A follower's last raft batch damaged: it refuses to start, naming the file and the offset.
first=$(leader)
victim=$(((first + 1) % 3))
stop "$victim"
segment=$(ls -t "$work/r$victim/raft/" | grep -E '^(open-|[0-9])' | head -n 1)
python3 - "$work/r$victim/raft/$segment" <<'PY' || fail "no batch to damage"
import sys
path = sys.argv[1]
data = open(path, "rb").read()
end = len(data.rstrip(b"\0"))
assert end > 64
with open(path, "r+b") as stream:
    stream.seek(end - 5)
    stream.write(bytes([data[end - 5] ^ 0xFF]))
PY
"$KHORGOS" start --data "$work/r$victim" --addresses "$addresses" --replica "$victim" \
    2>"$work/refused.log"
[ "$?" -eq 4 ] || fail "a replica with a damaged raft log: not refused with exit 4"
grep -q "error=corrupt.*raft/$segment: the raft log batch at offset [0-9]*" "$work/refused.log" ||
    fail "the refusal: $(cat "$work/refused.log")"

# Replaced: a fresh directory, generation 1, added under the same index.
transfers 120 129 >"$work/in2"
client "$work/in2" "$work/out2" 10
format "$victim" 1
start "$victim"
out=$(member add "$victim" 1)
echo "$out" | grep -q "replica=$victim generation=1 role=voter" || fail "replace: $out"
echo "$out" | grep -q "replica=$victim generation=0" && fail "generation 0 stayed: $out"
# Asking for the replaced generation again is refused: it would undo the replacement.
"$KHORGOS" cluster add --addresses "$addresses" --cluster 7 --replica "$victim" --timeout 20 \
    >"$work/older.out" 2>&1 && fail "generation 0 added back over generation 1"
grep -q "(invalid_argument)" "$work/older.out" || fail "older generation: $(cat "$work/older.out")"

# A fourth replica added, then the leader removed: it hands on its leadership, then leaves.
format 3 0
start 3
out=$(member add 3)
[ "$(echo "$out" | grep -o "role=voter" | wc -l)" -eq 4 ] || fail "add 3: $out"
transfers 130 139 >"$work/in3"
client "$work/in3" "$work/out3" 10
removed=$(leader)
out=$(member remove "$removed")
echo "$out" | grep -q "replica=$removed " && fail "remove $removed: $out"
members=$(echo 0 1 2 3 | tr ' ' '\n' | grep -v -x "$removed" | tr '\n' ' ')
first_member=${members%% *}
# The removed replica, left running, hears from no leader and stands for election in vain:
# the members, which have a leader, neither vote for it nor take its terms.
leadings=$(cat "$work"/r[0-3].log | grep -c "event=leading")
transfers 140 149 >"$work/in4"
client "$work/in4" "$work/out4" 10
sleep 3
[ "$(cat "$work"/r[0-3].log | grep -c "event=leading")" -eq "$leadings" ] ||
    fail "the removed replica disrupted the cluster: $(grep -h event=leading "$work"/r*.log)"
stop "$removed"

# Every member holds every acknowledged transfer once, with equal journals.
records() { "$KHORGOS" inspect --data "$work/r$1" 2>/dev/null | wc -l; }
for _ in $(seq 1 300); do # until every member's journal has the same length
    [ "$(for index in $members; do records "$index"; done | sort -u | wc -l)" -eq 1 ] && break
    sleep 0.1
done
# `khorgos status` shows the configuration as the leader knows it.
http=$(for index in $members; do printf '127.0.0.1:%s,' $((5230 + index)); done)
"$KHORGOS" status --addresses "${http%,}" >"$work/status" ||
    fail "status: $(cat "$work/status")"
for index in $members; do
    expected="replica $index generation $([ "$index" = "$victim" ] && echo 1 || echo 0) voter"
    grep "^configuration:" "$work/status" | grep -q "$expected" ||
        fail "status lacks $expected: $(cat "$work/status")"
done
grep "^configuration:" "$work/status" | grep -q "replica $removed " &&
    fail "status: $(cat "$work/status")"
for index in $members; do stop "$index"; done
for index in $members; do
    "$KHORGOS" check --data "$work/r$index" >"$work/check$index" || fail "check r$index"
    [ "$(grep "chain head" "$work/check$first_member")" = \
        "$(grep "chain head" "$work/check$index")" ] || fail "r$first_member and r$index: other chain heads"
    transfers_applied "$work/r$index"
done
echo "ok: damaged raft log refused, replica $victim replaced (generation 1), replica 3 added," \
    "leader $removed removed; 50 transfers once on replicas $members, chain heads equal"
