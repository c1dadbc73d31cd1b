#!/bin/bash
# apply_basic.sh: `khorgos apply` answers exactly one line per request, in order; a malformed
# line in the middle gets an error naming its line number and the next line is served as usual.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

cat >"$work/in" <<'LINES'
{"op":"create_accounts","events":[{"id":"1","ledger":156,"code":1},{"id":"2","ledger":156,"code":1,"flags":["history"]},{"id":"3","ledger":398,"code":1}]}
{"op":"create_transfers","events":[{"id":"10","debit_account_id":"1","credit_account_id":"2","amount":"340282366920938463463374607431768211455","ledger":156,"code":7}]}
{"op":"create_transfers","events":[{"id":"11","debit_account_id":"1","credit_account_id":"2","amount":1,"ledger":156,"code":7},{"id":"12","debit_account_id":"1","credit_account_id":"3","amount":5,"ledger":156,"code":7}]}
{"op":"create_transfers","events":[{"id":"13" "amount":1}]}

{"op":"lookup_accounts","ids":["2","99","1"]}
{"op":"lookup_transfers","ids":[10]}
{"op":"get_account_transfers","filter":{"account_id":"2","limit":10,"flags":["debits","credits"]}}
{"op":"get_account_balances","filter":{"account_id":"2","limit":10,"flags":["credits"]}}
{"op":"query_accounts","filter":{"ledger":398,"limit":10}}
{"op":"query_transfers","filter":{"code":7,"limit":10,"flags":["reversed"]}}
LINES

"$KHORGOS" apply <"$work/in" >"$work/out" 2>"$work/err"
cat "$work/out"
grep -q "in memory: nothing is durable" "$work/err"

python3 - "$work/out" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "the output ends with a newline"
replies = [json.loads(line) for line in lines[:-1]]
ops = [reply.get("op") for reply in replies]
# 11 lines, one blank: 10 replies, in order.
assert ops == ["create_accounts", "create_transfers", "create_transfers", None,
               "lookup_accounts", "lookup_transfers", "get_account_transfers",
               "get_account_balances", "query_accounts", "query_transfers"], ops
assert [r["status"] for r in replies[0]["results"]] == ["created"] * 3
ts = [int(r["timestamp"]) for r in replies[0]["results"]]
assert ts == sorted(ts) and len(set(ts)) == 3, "timestamps are unique and increasing"
assert all(isinstance(r["timestamp"], str) for r in replies[0]["results"])
assert replies[1]["results"][0]["status"] == "created"
# 2^128-1 moved from 1 to 2: one more overflows; the other transfer's ledger differs.
assert [r["status"] for r in replies[2]["results"]] == ["overflows_debits_posted",
        "accounts_must_have_the_same_ledger"], replies[2]
error = replies[3]
assert error["error"]["code"] == "invalid_json", error
assert error["line"] == 4, error
assert "op" not in error  # the line had no readable op
accounts = replies[4]["accounts"]
assert [a["id"] for a in accounts] == ["2", "1"], "found ones, in request order"
assert accounts[0]["credits_posted"] == "340282366920938463463374607431768211455"
assert accounts[1]["debits_posted"] == "340282366920938463463374607431768211455"
assert accounts[0]["flags"] == ["history"] and accounts[0]["ledger"] == 156
assert replies[5]["transfers"][0]["amount"] == "340282366920938463463374607431768211455"
assert [t["id"] for t in replies[6]["transfers"]] == ["10"]
balances = replies[7]["balances"]
assert len(balances) == 1 and balances[0]["credits_posted"] == accounts[0]["credits_posted"]
assert [a["id"] for a in replies[8]["accounts"]] == ["3"]
assert [t["id"] for t in replies[9]["transfers"]] == ["10"]
print("apply_basic: ok")
PY
