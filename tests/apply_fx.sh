#!/bin/bash
# apply_fx.sh: issue 5 through `khorgos apply`: a quote with a negative exponent read and
# written as text, a cross-currency payment by the debtor's amount and one by the creditor's
# amount (rounded up: 1.00 CNY costs 65.79 KZT at 0.0152), a too-precise rate refused, and a
# net settlement window opened, closed, its positions listed and settled.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

cat >"$work/in" <<'JSON'
{"op":"create_participants","events":[{"bic":"NBRKKZKX","country":"KZ","role":"settlement_agent","name":"NBK","currencies":[398]},{"bic":"PBOCCNBJ","country":"CN","role":"settlement_agent","name":"PBOC","currencies":[156]},{"bic":"HSBKKZKX","country":"KZ","role":"bank","name":"Halyk","currencies":[398,156]},{"bic":"KCJBKZKX","country":"KZ","role":"bank","name":"KCJB","currencies":[398]},{"bic":"BKCHCNBJ","country":"CN","role":"bank","name":"BoC","currencies":[156,398]},{"bic":"LPAAKZKA","country":"KZ","role":"liquidity_provider","name":"LP A","currencies":[398,156]}]}
{"op":"open_day","events":[{"id":"1","currency":398,"date":20230519,"queue_mode":"bypass_fifo"},{"id":"2","currency":156,"date":20230519,"queue_mode":"bypass_fifo"}]}
{"op":"fund","events":[{"id":"3","bic":"HSBKKZKX","currency":398,"amount":"100000000"},{"id":"4","bic":"LPAAKZKA","currency":156,"amount":"10000000"}]}
{"op":"set_fx_quotes","events":[{"id":"1","provider":"LPAAKZKA","currency_source":398,"currency_target":156,"rate_mantissa":"152","rate_exponent":"-4","amount_max":"100000000","expires_at":"1684458000000000000"},{"id":"2","provider":"LPAAKZKA","currency_source":398,"currency_target":156,"rate_mantissa":"1234567890123","rate_exponent":"-14","amount_max":"1","expires_at":"1684458000000000000"}]}
{"op":"submit_payments","events":[{"id":"20","debtor":"HSBKKZKX","creditor":"BKCHCNBJ","currency":398,"currency_target":156,"amount":"10000000","end_to_end_id":"INV-7"}]}
{"op":"submit_payments","events":[{"id":"21","debtor":"HSBKKZKX","creditor":"BKCHCNBJ","currency":398,"currency_target":156,"amount_kind":"creditor","amount_target":"100","end_to_end_id":"INV-8"}]}
{"op":"lookup_payments","ids":["20","21"]}
{"op":"open_window","events":[{"id":"30"}]}
{"op":"submit_payments","events":[{"id":"40","debtor":"HSBKKZKX","creditor":"KCJBKZKX","currency":398,"amount":"1000","settlement":"net","end_to_end_id":"N-1"}]}
{"op":"close_window","events":[{"id":"31"}]}
{"op":"get_window_positions","filter":{"window":1}}
{"op":"settle_window","events":[{"id":"32","number":1}]}
{"op":"lookup_windows","windows":[{"number":1}]}
{"op":"lookup_payments","ids":["40"]}
JSON

"$KHORGOS" apply --clock manual <"$work/in" >"$work/out" 2>/dev/null
python3 - "$work/out" <<'PY'
import json, sys
replies = [json.loads(line) for line in open(sys.argv[1])]
assert len(replies) == 14, replies
assert [r["status"] for r in replies[3]["results"]] == ["ok", "rate_too_precise"], replies[3]
assert replies[4]["results"][0]["status"] == "settled", replies[4]
assert replies[5]["results"][0]["status"] == "settled", replies[5]
debtor, creditor = replies[6]["payments"]
assert debtor["amount_target"] == "152000" and debtor["rate_exponent"] == "-4", debtor
assert debtor["route"] == "direct" and debtor["rate_mantissa"] == "152", debtor
assert creditor["amount"] == "6579" and creditor["amount_kind"] == "creditor", creditor
assert replies[8]["results"][0]["status"] == "in_window", replies[8]
positions = {(p["bic"], p["currency"]): p for p in replies[10]["positions"]}
assert positions[("HSBKKZKXXXX", 398)]["net_debit"] == "1000", positions
assert positions[("KCJBKZKXXXX", 398)]["net_credit"] == "1000", positions
assert replies[11]["results"][0]["status"] == "ok", replies[11]
assert replies[12]["windows"][0]["state"] == "settled", replies[12]
assert replies[13]["payments"][0]["state"] == "settled", replies[13]
assert replies[13]["payments"][0]["window"] == 1, replies[13]
print("apply_fx: ok")
PY
