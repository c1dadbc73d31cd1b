#!/bin/bash
# recovery_exit.sh: `khorgos check` and `khorgos apply --data` classify a damaged data directory
# the same way, with exit statuses distinct from the usage error's 2 (docs/storage.md,
# "Recovery"): 0 clean, 3 repairable, 4 refused. The header copies truncated plus one journal
# byte flipped: check 4, apply 4 with every file unchanged, check 4 again. The header copies
# truncated alone: check 3, apply rewrites them and serves every transfer, check 0.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# status COMMAND...: runs it, prints its exit status.
status() { "$@" >"$work/out" 2>"$work/err"; echo $?; }

requests() {
    echo '{"op":"create_accounts","events":[{"id":"1","ledger":156,"code":1},{"id":"2","ledger":156,"code":1}]}'
    for i in 1 2 3 4 5 6; do
        printf '{"op":"create_transfers","events":[{"id":"%d","debit_account_id":"1","credit_account_id":"2","amount":%d,"ledger":156,"code":1}]}\n' "$i" "$i"
    done
}

build() {
    "$KHORGOS" format --data "$1" --accounts 16 --transfers 1024 --balances 64 >/dev/null ||
        fail "format"
    requests | "$KHORGOS" apply --data "$1" >/dev/null 2>&1 || fail "apply"
    [ "$(status "$KHORGOS" check --data "$1")" = 0 ] || fail "a fresh directory: $(cat "$work/out")"
}

# Every data file's bytes; the lock file is not data (each writer's open writes its pid there).
fingerprint() { (cd "$1" && find . -maxdepth 1 -type f ! -name lock -print0 | sort -z |
    xargs -0 sha256sum | sha256sum); }

# The defect: copies truncated, one byte of the first record flipped (later records follow).
data=$work/refused
build "$data"
truncate -s 0 "$data"/headers-0000000000000001
printf '\xff' | dd of="$data"/journal-0000000000000001 bs=1 seek=200 conv=notrunc 2>/dev/null
before=$(fingerprint "$data")
[ "$(status "$KHORGOS" check --data "$data")" = 4 ] || fail "check: $(cat "$work/out")"
grep -q "journal-0000000000000001: .* at offset 0, sequence 1" \
    "$work/out" || fail "check names no file, offset, sequence: $(cat "$work/out")"
[ "$(status "$KHORGOS" apply --data "$data" </dev/null)" = 4 ] || fail "apply: $(cat "$work/err")"
grep -q "journal-0000000000000001" "$work/err" || fail "apply names no file: $(cat "$work/err")"
[ "$(fingerprint "$data")" = "$before" ] || fail "apply changed a refused directory"
[ "$(status "$KHORGOS" check --data "$data")" = 4 ] || fail "check after: $(cat "$work/out")"

# The copies truncated alone: repairable, repaired, every transfer served.
data=$work/repairable
build "$data"
truncate -s 0 "$data"/headers-0000000000000001
[ "$(status "$KHORGOS" check --data "$data")" = 3 ] || fail "check: $(cat "$work/out")"
grep -q "check: repairable" "$work/out" || fail "check: $(cat "$work/out")"
echo '{"op":"lookup_transfers","ids":["1","2","3","4","5","6"]}' >"$work/lookup"
[ "$(status "$KHORGOS" apply --data "$data" <"$work/lookup")" = 0 ] ||
    fail "apply: $(cat "$work/err")"
[ "$(grep -o '"id":"[0-9]*"' "$work/out" | wc -l)" = 6 ] || fail "lookup: $(cat "$work/out")"
[ "$(status "$KHORGOS" check --data "$data")" = 0 ] || fail "check after: $(cat "$work/out")"
grep -q "check: ok" "$work/out" || fail "check after: $(cat "$work/out")"

# format --keep-journal, then check --from-genesis proves the chain from request 1.
data=$work/kept
"$KHORGOS" format --data "$data" --accounts 16 --transfers 1024 --balances 64 --keep-journal \
    >"$work/out" || fail "format --keep-journal"
grep -q "the journal kept in its archive folder" "$work/out" || fail "format: $(cat "$work/out")"
requests | "$KHORGOS" apply --data "$data" >/dev/null 2>&1 || fail "apply"
[ "$(status "$KHORGOS" check --data "$data" --from-genesis)" = 0 ] ||
    fail "check --from-genesis: $(cat "$work/out")"
grep -q "the chain verified from request 1: 0 archived record(s) in archive/, then 7 in the" \
    "$work/out" || fail "check --from-genesis: $(cat "$work/out")"

# A usage error stays 2, apart from every state above.
[ "$(status "$KHORGOS" check --bogus x)" = 2 ] || fail "usage"
echo "recovery_exit: ok"
