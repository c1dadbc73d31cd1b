#!/bin/bash
# apply_fx.sh: issue 5 through `khorgos apply`: a quote's rate read and written as a decimal
# string ("0.0152"), amounts as decimal strings in their currency's major unit and currencies as
# letters, a cross-currency payment by the debtor's amount and one by the creditor's amount
# (rounded up: 1.00 CNY costs 65.79 KZT at 0.0152), a too-precise rate, a zero amount and an
# unknown currency refused by the codec with nothing applied, and a net settlement window
# opened, closed, its positions listed and settled.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

cat >"$work/in" <<'JSON'
{"op":"create_participants","events":[{"bic":"NBRKKZKX","country":"KZ","role":"settlement_agent","name":"NBK","currencies":["KZT"]},{"bic":"PBOCCNBJ","country":"CN","role":"settlement_agent","name":"PBOC","currencies":["CNY"]},{"bic":"HSBKKZKX","country":"KZ","role":"bank","name":"Halyk","currencies":["KZT","CNY"]},{"bic":"KCJBKZKX","country":"KZ","role":"bank","name":"KCJB","currencies":["KZT"]},{"bic":"BKCHCNBJ","country":"CN","role":"bank","name":"BoC","currencies":["CNY","KZT"]},{"bic":"LPAAKZKA","country":"KZ","role":"liquidity_provider","name":"LP A","currencies":["KZT","CNY"]}]}
{"op":"open_day","events":[{"id":"1","currency":"KZT","date":20230519,"queue_mode":"bypass_fifo"},{"id":"2","currency":"CNY","date":20230519,"queue_mode":"bypass_fifo"}]}
{"op":"fund","events":[{"id":"3","bic":"HSBKKZKX","currency":"KZT","amount":"1000000.00"},{"id":"4","bic":"LPAAKZKA","currency":"CNY","amount":"100000"}]}
{"op":"set_fx_quotes","events":[{"id":"1","provider":"LPAAKZKA","currency_source":"KZT","currency_target":"CNY","rate":"0.0152","amount_max":"1000000.00","expires_at":"1684458000000000000"}]}
{"op":"set_fx_quotes","events":[{"id":"2","provider":"LPAAKZKA","currency_source":"KZT","currency_target":"CNY","rate":"0.00001234567890123","amount_max":"0.01","expires_at":"1684458000000000000"}]}
{"op":"submit_payments","events":[{"id":"20","debtor":"HSBKKZKX","creditor":"BKCHCNBJ","currency":"KZT","currency_target":"CNY","amount":"100000.00","end_to_end_id":"INV-7"}]}
{"op":"submit_payments","events":[{"id":"21","debtor":"HSBKKZKX","creditor":"BKCHCNBJ","currency":"KZT","currency_target":"CNY","amount_kind":"creditor","amount_target":"1.00","end_to_end_id":"INV-8"}]}
{"op":"submit_payments","events":[{"id":"22","debtor":"HSBKKZKX","creditor":"BKCHCNBJ","amount":"0.00","currency":"KZT","end_to_end_id":"INV-9"}]}
{"op":"submit_payments","events":[{"id":"23","debtor":"HSBKKZKX","creditor":"BKCHCNBJ","amount":"5","currency":"XBT","end_to_end_id":"INV-10"}]}
{"op":"lookup_payments","ids":["20","21","22","23"]}
{"op":"lookup_fx_quotes","ids":["1","2"]}
{"op":"open_window","events":[{"id":"30"}]}
{"op":"submit_payments","events":[{"id":"40","debtor":"HSBKKZKX","creditor":"KCJBKZKX","currency":"KZT","amount":"10.00","settlement":"net","end_to_end_id":"N-1"}]}
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
assert len(replies) == 18, replies
assert [r["status"] for r in replies[3]["results"]] == ["ok"], replies[3]
error = replies[4]["error"]
assert error["code"] == "rate_too_precise" and '"rate"' in error["message"], replies[4]
assert replies[5]["results"][0]["status"] == "settled", replies[5]
assert replies[6]["results"][0]["status"] == "settled", replies[6]
error = replies[7]["error"]
assert error["code"] == "amount_not_positive" and '"amount"' in error["message"], replies[7]
assert replies[8]["error"]["code"] == "unknown_currency", replies[8]
debtor, creditor = replies[9]["payments"]  # 22 and 23 were refused: never applied
assert debtor["amount"] == "100000.00" and debtor["currency"] == "KZT", debtor
assert debtor["amount_target"] == "1520.00" and debtor["currency_target"] == "CNY", debtor
assert debtor["route"] == "direct" and debtor["rate"] == "0.0152", debtor
assert debtor["priority"] == "normal", debtor  # the JSON default
assert creditor["amount"] == "65.79" and creditor["amount_kind"] == "creditor", creditor
assert creditor["amount_target"] == "1.00", creditor
quotes = replies[10]["quotes"]
assert len(quotes) == 1 and quotes[0]["rate"] == "0.0152", quotes
assert quotes[0]["amount_max"] == "1000000.00" and quotes[0]["currency_source"] == "KZT", quotes
assert replies[12]["results"][0]["status"] == "in_window", replies[12]
positions = {(p["bic"], p["currency"]): p for p in replies[14]["positions"]}
assert positions[("HSBKKZKXXXX", "KZT")]["net_debit"] == "10.00", positions
assert positions[("KCJBKZKXXXX", "KZT")]["net_credit"] == "10.00", positions
assert replies[15]["results"][0]["status"] == "ok", replies[15]
assert replies[16]["windows"][0]["state"] == "settled", replies[16]
assert replies[17]["payments"][0]["state"] == "settled", replies[17]
assert replies[17]["payments"][0]["window"] == 1, replies[17]
print("apply_fx: ok")
PY
