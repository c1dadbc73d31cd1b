#!/bin/bash
# apply_limits.sh: the limits of one request through `khorgos apply --data` (docs/limits.md). A
# submit_payments of 4,095 payments (one more than fit in a message: a payment is 256 bytes)
# and one of 8,190 (one more than a batch), and a lookup_payments of 4,095 ids (its reply would
# not fit), each get too_many_events, change nothing and leave the process serving; 4,094
# payments are applied and are there after a restart.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

"$KHORGOS" format --data "$work/data" --participants 4 --payments 16384 >/dev/null

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def payments(first, count):
    return json.dumps({"op": "submit_payments", "events": [
        {"id": str(first + i), "debtor": "HSBKKZKX", "creditor": "KCJBKZKX", "amount": "1.00",
         "currency": "KZT", "type": "interbank", "end_to_end_id": "L-%d" % (first + i)}
        for i in range(count)]})
positions = '{"op":"get_positions","filter":{"bic":"HSBKKZKX"}}'
setup = [
    json.dumps({"op": "create_participants", "events": [
        {"bic": "NBRKKZKX", "country": "KZ", "role": "settlement_agent", "name": "NBK",
         "currencies": ["KZT"]},
        {"bic": "HSBKKZKX", "country": "KZ", "role": "bank", "name": "Halyk",
         "currencies": ["KZT"]},
        {"bic": "KCJBKZKX", "country": "KZ", "role": "bank", "name": "Kaspi",
         "currencies": ["KZT"]}]}),
    '{"op":"open_day","events":[{"id":"1","currency":"KZT","date":20230519,"queue_mode":"fifo"}]}',
    '{"op":"fund","events":[{"id":"2","bic":"HSBKKZKX","currency":"KZT","amount":"1000000.00"}]}',
    positions,
    payments(1, 4095),
    payments(1, 8190),
    json.dumps({"op": "lookup_payments", "ids": [str(i) for i in range(1, 4096)]}),
    positions,
    '{"op":"lookup_payments","ids":["1","4095"]}',
    payments(1, 4094),
    positions,
]
open(work + "/in", "w").write("\n".join(setup) + "\n")
open(work + "/again", "w").write(
    json.dumps({"op": "lookup_payments", "ids": [str(i) for i in range(1, 4095)]}) + "\n"
    + positions + "\n")
PY

"$KHORGOS" apply --data "$work/data" --clock manual <"$work/in" >"$work/out" 2>"$work/err"
"$KHORGOS" apply --data "$work/data" --clock manual <"$work/again" >"$work/out2" 2>>"$work/err"
"$KHORGOS" check --data "$work/data" >/dev/null

python3 - "$work/out" "$work/out2" <<'PY'
import json, sys
replies = [json.loads(line) for line in open(sys.argv[1])]
again = [json.loads(line) for line in open(sys.argv[2])]
assert len(replies) == 11, len(replies)
for line in (5, 6, 7):
    reply = replies[line - 1]
    assert reply["error"]["code"] == "too_many_events", reply
    assert reply["line"] == line, reply
assert "at most 4094" in replies[4]["error"]["message"], replies[4]
assert "at most 4094" in replies[6]["error"]["message"], replies[6]
# Nothing changed: the same position, no payment 1 or 4095.
assert replies[3] == replies[7], (replies[3], replies[7])
assert replies[8]["payments"] == [], replies[8]
results = replies[9]["results"]
assert len(results) == 4094 and all(r["status"] == "settled" for r in results)
assert replies[10]["positions"][0]["sent_count"] == 4094, replies[10]
# After a restart: every accepted payment is there, settled.
assert len(again[0]["payments"]) == 4094
assert all(p["state"] == "settled" for p in again[0]["payments"])
assert again[1] == replies[10], (again[1], replies[10])
print("apply_limits: ok")
PY
