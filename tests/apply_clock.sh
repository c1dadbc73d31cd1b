#!/bin/bash
# apply_clock.sh: the manual clock starts at 2023-05-19T00:00:00Z (1684454400 s), moves only by
# advance_clock, and a pending transfer's expiry is visible in lookups once its timeout passed.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

cat >"$work/in" <<'LINES'
{"op":"create_accounts","events":[{"id":1,"ledger":840,"code":1},{"id":2,"ledger":840,"code":1}]}
{"op":"create_transfers","events":[{"id":20,"debit_account_id":1,"credit_account_id":2,"amount":"700","ledger":840,"code":1,"flags":["pending"],"timeout":60},{"id":21,"debit_account_id":1,"credit_account_id":2,"amount":"300","ledger":840,"code":1,"flags":["pending"],"timeout":3600}]}
{"op":"lookup_accounts","ids":[1]}
{"op":"advance_clock","seconds":59}
{"op":"lookup_accounts","ids":[1]}
{"op":"advance_clock","seconds":2}
{"op":"lookup_accounts","ids":[1,2]}
{"op":"create_transfers","events":[{"id":22,"pending_id":20,"amount":"700","flags":["post_pending_transfer"]}]}
{"op":"advance_clock","nanoseconds":"1000000000"}
{"op":"advance_clock","seconds":18446744073709551615}
LINES

"$KHORGOS" apply --clock manual <"$work/in" >"$work/out"
cat "$work/out"
python3 - "$work/out" <<'PY'
import json, sys
replies = [json.loads(line) for line in open(sys.argv[1])]
assert len(replies) == 10, len(replies)
start = 1684454400 * 10**9
created = [int(r["timestamp"]) for r in replies[0]["results"]]
assert all(start - 10 <= t <= start + 10 for t in created), created
assert replies[3] == {"op": "advance_clock", "now": str(start + 59 * 10**9)}, replies[3]
assert replies[2]["accounts"][0]["debits_pending"] == "1000"
assert replies[4]["accounts"][0]["debits_pending"] == "1000", "not yet expired at 59 s"
assert replies[5]["now"] == str(start + 61 * 10**9)
one, two = replies[6]["accounts"]
assert one["debits_pending"] == "300" and two["credits_pending"] == "300", "700 expired"
assert one["debits_posted"] == "0"
assert replies[7]["results"][0]["status"] == "pending_transfer_expired", replies[7]
assert replies[8]["now"] == str(start + 62 * 10**9)
assert replies[9]["op"] == "advance_clock" and replies[9]["error"]["code"] == "out_of_range"
assert replies[9]["line"] == 10
print("apply_clock: ok")
PY

# Without --clock manual the clock is the system's, and advance_clock is refused.
echo '{"op":"advance_clock","seconds":1}' | "$KHORGOS" apply 2>/dev/null >"$work/real"
grep -q '"code":"clock_not_manual"' "$work/real"
grep -q '"line":1' "$work/real"
