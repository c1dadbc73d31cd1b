#!/bin/bash
# apply_settle.sh: issue 4's JSON values through `khorgos apply`: currencies as letters (and a
# number), amounts as decimal strings in the currency's major unit written back the same way, a
# payment without "priority" taken as normal, a limit set to "none", every amount error refused
# with its named code and the field in its message and nothing of the line applied, and
# set_holidays read (its answer is the engine's, not checked here).
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

cat >"$work/in" <<'JSON'
{"op":"create_participants","events":[{"bic":"NBRKKZKX","country":"KZ","role":"settlement_agent","name":"NBK","currencies":["KZT"]},{"bic":"HSBKKZKX","country":"KZ","role":"bank","name":"Halyk","currencies":[398]},{"bic":"KCJBKZKX","country":"KZ","role":"bank","name":"Kaspi","currencies":["KZT"]}]}
{"op":"open_day","events":[{"id":"1","currency":"KZT","date":20230519,"queue_mode":"fifo"}]}
{"op":"fund","events":[{"amount":"1000.5","id":"2","bic":"HSBKKZKX","currency":"KZT"}]}
{"op":"submit_payments","events":[{"id":"10","debtor":"HSBKKZKX","creditor":"KCJBKZKX","amount":"250.25","currency":"KZT","end_to_end_id":"E-10"}]}
{"op":"submit_payments","events":[{"id":"11","debtor":"HSBKKZKX","creditor":"KCJBKZKX","amount":"1","currency":"KZT","end_to_end_id":"E-11"},{"id":"12","debtor":"HSBKKZKX","creditor":"KCJBKZKX","amount":"1.005","currency":"KZT","end_to_end_id":"E-12"}]}
{"op":"submit_payments","events":[{"id":"13","debtor":"HSBKKZKX","creditor":"KCJBKZKX","amount":"0","currency":"KZT","end_to_end_id":"E-13"}]}
{"op":"submit_payments","events":[{"id":"14","debtor":"HSBKKZKX","creditor":"KCJBKZKX","amount":"-3.00","currency":"KZT","end_to_end_id":"E-14"}]}
{"op":"submit_payments","events":[{"id":"15","debtor":"HSBKKZKX","creditor":"KCJBKZKX","amount":"ten","currency":"KZT","end_to_end_id":"E-15"}]}
{"op":"submit_payments","events":[{"id":"16","debtor":"HSBKKZKX","creditor":"KCJBKZKX","amount":25025,"currency":"KZT","end_to_end_id":"E-16"}]}
{"op":"submit_payments","events":[{"id":"17","debtor":"HSBKKZKX","creditor":"KCJBKZKX","amount":"5","currency":"KZX","end_to_end_id":"E-17"}]}
{"op":"lookup_payments","ids":["10","11","12","13","14","15","16","17"]}
{"op":"set_limits","events":[{"id":"3","bic":"HSBKKZKX","currency":"KZT","limit_kind":"net_debit_cap","amount":"100.00"}]}
{"op":"set_limits","events":[{"id":"4","bic":"HSBKKZKX","currency":"KZT","limit_kind":"net_debit_cap","amount":"none"}]}
{"op":"get_positions","filter":{"bic":"HSBKKZKX","currency":"KZT"}}
{"op":"set_holidays","events":[{"id":"5","currency":"KZT","date":20230522}]}
JSON

"$KHORGOS" apply --clock manual <"$work/in" >"$work/out" 2>/dev/null
python3 - "$work/out" <<'PY'
import json, sys
replies = [json.loads(line) for line in open(sys.argv[1])]
assert len(replies) == 15, replies
assert all(r["status"] == "ok" for r in replies[0]["results"]), replies[0]
assert replies[2]["results"][0]["status"] == "ok", replies[2]
assert replies[3]["results"][0]["status"] == "settled", replies[3]
expected = [(4, "amount_too_precise", "events[1]"), (5, "amount_not_positive", "events[0]"),
            (6, "amount_not_positive", "events[0]"), (7, "amount_invalid", "events[0]"),
            (8, "wrong_type", "events[0]"), (9, "unknown_currency", "events[0]")]
for index, code, where in expected:
    error = replies[index]["error"]
    assert error["code"] == code, (index, replies[index])
    assert where in error["message"], (index, error)
    assert '"amount"' in error["message"] or code == "unknown_currency", (index, error)
payments = replies[10]["payments"]
assert [p["id"] for p in payments] == ["10"], payments  # 11 was on the refused line with 12
payment = payments[0]
assert payment["amount"] == "250.25" and payment["currency"] == "KZT", payment
assert payment["priority"] == "normal", payment  # JSON's default
assert "rate" not in payment and "currency_target" not in payment, payment
assert replies[11]["results"][0]["status"] == "ok", replies[11]
assert replies[12]["results"][0]["status"] == "ok", replies[12]
position = replies[13]["positions"][0]
assert position["currency"] == "KZT", position
assert position["balance"] == "750.25" and position["sent"] == "250.25", position
assert position["net_debit_cap"] == "none", position
assert "results" in replies[14] or replies[14]["error"]["code"] not in (
    "unknown_op", "unknown_field", "unknown_currency", "wrong_type"), replies[14]
print("apply_settle: ok")
PY
