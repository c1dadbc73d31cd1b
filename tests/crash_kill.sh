#!/bin/bash
# crash_kill.sh: black-box crash test of `khorgos apply --data`. A steady stream of transfers
# goes into apply; the process is killed with SIGKILL at a random moment, then restarted on the
# same directory, at least 50 times. Afterwards every transfer whose reply line was read in full
# must be in the ledger, `khorgos check` must pass, and each ledger's debits must equal its
# credits. (SIGKILL loses no page-cache data, so this tests the engine's ordering and recovery
# logic end to end; power loss is simulated by tests/test_storage_crash.c.)
set -u
KHORGOS=${KHORGOS:-build/khorgos}
ROUNDS=${ROUNDS:-55}
LINES=${LINES_PER_ROUND:-2000}
# The kill lands KILL_DELAY_MS_MIN to KILL_DELAY_MS_MIN + 249 ms after the start (5 by
# default; make test-long's sanitizer run gives 2000: that build opens in about 1.5 s and would
# otherwise be killed before it ever serves).
KILL_DELAY_MS_MIN=${KILL_DELAY_MS_MIN:-5}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=$work/data
fail() { echo "FAIL: $*"; [ -f "$work/err" ] && tail -n 5 "$work/err"; exit 1; }

"$KHORGOS" format --data "$data" --accounts 64 --transfers 400000 --balances 1024 \
    --participants 4 --payments 64 >/dev/null || fail "format"
accounts='{"op":"create_accounts","events":['
for id in 1 2 3 4; do
    ledger=156; [ $id -gt 2 ] && ledger=398
    accounts="$accounts{\"id\":\"$id\",\"ledger\":$ledger,\"code\":1}"
    [ $id -lt 4 ] && accounts="$accounts,"
done
accounts="$accounts]}"
echo "$accounts" | "$KHORGOS" apply --data "$data" >"$work/out" 2>"$work/err" || fail "accounts"
grep -q '"status":"created"' "$work/out" || fail "accounts not created"

# Transfer i of a round: 1->2 in CNY or 3->4 in KZT, alternating, amount i.
generate() {
    local base=$1 i
    for ((i = 1; i <= LINES; i++)); do
        if ((i % 2)); then debit=1 credit=2 ledger=156; else debit=3 credit=4 ledger=398; fi
        printf '{"op":"create_transfers","events":[{"id":"%d","debit_account_id":"%d","credit_account_id":"%d","amount":%d,"ledger":%d,"code":1}]}\n' \
            $((base + i)) $debit $credit $i $ledger
    done
}

: >"$work/acknowledged"
kills=0
# Rounds go on until ROUNDS kills have landed: a kill that comes after apply has already read
# all its input and exited does not count, and on a loaded machine that happens now and then.
rounds_max=$((ROUNDS * 3))
for ((round = 1; kills < ROUNDS && round <= rounds_max; round++)); do
    base=$((round * 100000))
    generate $base >"$work/input"
    # The input stays open a while after the last line, so apply is alive (serving or waiting
    # for more) whenever the kill comes. It comes through a process substitution rather than a
    # pipe so that $! is apply alone and `wait` does not also wait for the feeder's sleep.
    "$KHORGOS" apply --data "$data" < <(cat "$work/input"; sleep 2) >"$work/out" 2>"$work/err" &
    pid=$!
    # Every fifth round the kill waits until apply has answered once (at most 10 s), so that a
    # loaded machine, where opening can take longer than the whole random delay, still kills
    # some runs after acknowledgements and not only during recovery.
    if ((round % 5 == 0)); then
        wait_tries=0
        while [ ! -s "$work/out" ] && ((wait_tries++ < 200)); do sleep 0.05; done
    fi
    delay_ms=$((RANDOM % 250 + KILL_DELAY_MS_MIN))
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); fi
    wait $pid 2>/dev/null
    grep -q "cannot open" "$work/err" && fail "round $round: restart failed"
    # Only whole reply lines were read by the client; line k answers transfer base + k.
    awk -v base=$base '/"status":"created"/ { print base + NR }' "$work/out" >>"$work/acknowledged"
done
[ $kills -ge 50 ] || fail "only $kills kills landed (need 50)"

# Every acknowledged transfer is there.
acknowledged=$(wc -l <"$work/acknowledged")
[ "$acknowledged" -gt 0 ] || fail "no transfer was acknowledged"
split -l 1000 "$work/acknowledged" "$work/chunk."
for chunk in "$work"/chunk.*; do
    printf '{"op":"lookup_transfers","ids":[%s]}\n' "$(sed 's/.*/"&"/' "$chunk" | paste -sd,)"
done >"$work/lookups"
"$KHORGOS" apply --data "$data" <"$work/lookups" >"$work/found" 2>"$work/err" || fail "lookups"
found=$(grep -o '"debit_account_id"' "$work/found" | wc -l)
[ "$found" -eq "$acknowledged" ] || fail "$acknowledged acknowledged transfers, $found found"

# Debits equal credits in each ledger.
echo '{"op":"lookup_accounts","ids":["1","2","3","4"]}' |
    "$KHORGOS" apply --data "$data" >"$work/accounts" 2>"$work/err" || fail "lookup accounts"
sums=$(grep -o '"debits_posted":"[0-9]*","credits_pending":"[0-9]*","credits_posted":"[0-9]*"' \
    "$work/accounts" | tr -dc '0-9,\n' | awk -F, '{ d[NR] = $1; c[NR] = $3 }
    END { print d[1] + d[2] - c[1] - c[2], d[3] + d[4] - c[3] - c[4], NR }')
[ "$sums" = "0 0 4" ] || fail "debits and credits differ per ledger (differences, accounts: $sums)"

"$KHORGOS" check --data "$data" >"$work/check" || fail "check: $(cat "$work/check")"
echo "ok: $kills SIGKILLs, $acknowledged acknowledged transfers all found, ledgers balance"
