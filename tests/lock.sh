#!/bin/bash
# lock.sh: one writer per data directory. A first `khorgos apply --data D` serves with its
# input held open (a fifo); a second `apply --data D` must be refused at once (exit 1, a message
# naming D and the first one's pid) and write nothing, while the first goes on serving and loses
# nothing it acknowledged. `check` and `inspect` run beside the writer without blocking it and
# warn that a writer holds the directory. After SIGKILL of the first, the kernel has released
# its lock and a new apply opens D with everything the first acknowledged.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
work=$(mktemp -d)
first=
cleanup() {
    [ -n "$first" ] && kill -9 "$first" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
data=$work/data
fail() { echo "FAIL: $*"; exit 1; }

# Waits (at most 20 s) until file $1 holds at least $2 lines.
wait_lines() {
    local tries
    for ((tries = 0; tries < 200; tries++)); do
        [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "$1: fewer than $2 lines after 20 s: $(cat "$1")"
}

transfer() {
    printf '{"op":"create_transfers","events":[{"id":"%d","debit_account_id":"1",' "$1"
    printf '"credit_account_id":"2","amount":%d,"ledger":398,"code":1}]}\n' "$1"
}

"$KHORGOS" format --data "$data" --accounts 16 --transfers 1024 --balances 64 \
    --participants 4 --payments 16 >/dev/null || fail "format"

mkfifo "$work/input"
"$KHORGOS" apply --data "$data" <"$work/input" >"$work/out1" 2>"$work/err1" &
first=$!
exec 3>"$work/input"
accounts='{"op":"create_accounts","events":[{"id":"1","ledger":398,"code":1},'
echo "$accounts"'{"id":"2","ledger":398,"code":1}]}' >&3
wait_lines "$work/out1" 1
transfer 101 >&3
wait_lines "$work/out1" 2
grep -q '"status":"created"' "$work/out1" ||
    fail "the first apply did not serve: $(cat "$work/out1")"

# The second writer is refused before it reads or writes anything.
transfer 202 | "$KHORGOS" apply --data "$data" >"$work/out2" 2>"$work/err2"
status=$?
[ $status -eq 1 ] || fail "a second apply on a locked directory exited $status, not 1"
[ -s "$work/out2" ] && fail "the refused apply replied: $(cat "$work/out2")"
grep -qF "$data" "$work/err2" || fail "the refusal does not name $data: $(cat "$work/err2")"
grep -qw "$first" "$work/err2" || fail "the refusal does not name pid $first: $(cat "$work/err2")"
grep -q "locked" "$work/err2" || fail "the refusal does not say locked: $(cat "$work/err2")"
echo "refused: $(cat "$work/err2")"

# check and inspect read beside the writer, without blocking it, and warn.
"$KHORGOS" check --data "$data" >"$work/check" 2>"$work/check_err" ||
    fail "check beside a writer: $(cat "$work/check" "$work/check_err")"
grep -q "check: ok" "$work/check" || fail "check: $(cat "$work/check")"
grep -q "pid $first" "$work/check_err" || fail "check did not warn: $(cat "$work/check_err")"
"$KHORGOS" inspect --data "$data" >"$work/inspect" 2>"$work/inspect_err" ||
    fail "inspect beside a writer: $(cat "$work/inspect_err")"
grep -q "pid $first" "$work/inspect_err" || fail "inspect did not warn: $(cat "$work/inspect_err")"

# The first still serves.
transfer 103 >&3
wait_lines "$work/out1" 3
created=$(grep -c 'create_transfers.*"status":"created"' "$work/out1")
[ "$created" -eq 2 ] || fail "first apply: $(cat "$work/out1")"

# SIGKILL: the kernel releases the lock; a new writer opens the directory.
kill -9 "$first"
wait "$first" 2>/dev/null
first=
exec 3>&-
echo '{"op":"lookup_transfers","ids":["101","103","202"]}' |
    "$KHORGOS" apply --data "$data" >"$work/out3" 2>"$work/err3" ||
    fail "apply after the writer was killed: $(cat "$work/err3")"
found=$(grep -o '"id":"[0-9]*"' "$work/out3" | tr -dc '0-9\n' | paste -sd,)
[ "$found" = "101,103" ] || fail "transfers found after the kill: '$found' (want 101,103)"
"$KHORGOS" check --data "$data" >"$work/check" 2>"$work/check_err" || fail "final check"
[ -s "$work/check_err" ] && fail "check warned with no writer: $(cat "$work/check_err")"
echo "ok: second writer refused, nothing lost, lock released by SIGKILL"
