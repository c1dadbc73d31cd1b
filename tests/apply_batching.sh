#!/bin/bash
# apply_batching.sh: many lines written at once are committed in groups, yet every reply comes
# back in line order, one per request; blank lines get no reply but still count as lines.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

python3 - "$work/in" <<'PY'
import sys
count = 3000
out = open(sys.argv[1], "w")
events = ",".join('{"id":%d,"ledger":417,"code":1}' % i for i in range(1, count + 1))
out.write('{"op":"create_accounts","events":[%s]}\n' % events)
for i in range(1, count + 1):
    out.write('{"op":"create_transfers","events":[{"id":%d,"debit_account_id":%d,'
              '"credit_account_id":%d,"amount":%d,"ledger":417,"code":2}]}\n'
              % (i, i, i % count + 1, i))
    out.write('{"op":"lookup_accounts","ids":[%d]}\n' % i)
    if i % 500 == 0:
        out.write("\n")
        out.write('{"op":"oops"}\n')
PY

"$KHORGOS" apply <"$work/in" >"$work/out" 2>/dev/null
python3 - "$work/out" <<'PY'
import json, sys
replies = [json.loads(line) for line in open(sys.argv[1])]
count = 3000
assert len(replies) == 1 + 2 * count + count // 500, len(replies)
assert all(r["status"] == "created" for r in replies[0]["results"])
index, line = 1, 2
stamps = []
for i in range(1, count + 1):
    transfer, lookup = replies[index], replies[index + 1]
    assert transfer["op"] == "create_transfers" and transfer["results"][0]["status"] == "created"
    stamps.append(int(transfer["results"][0]["timestamp"]))
    assert lookup["accounts"][0]["id"] == str(i), (i, lookup)
    assert lookup["accounts"][0]["debits_posted"] == str(i)
    index += 2
    line += 2
    if i % 500 == 0:
        line += 1  # the blank line: no reply, but counted
        assert replies[index]["error"]["code"] == "unknown_op"
        assert replies[index]["line"] == line, (replies[index], line)
        index += 1
        line += 1
assert stamps == sorted(stamps) and len(set(stamps)) == count
print("apply_batching: ok")
PY

# Queries reserve room for their largest reply (8189 records), so a batch of them fills the
# reply arena early: the batch is committed and the next request moved to the front, in order.
python3 - "$work/queries" <<'PY'
import sys
out = open(sys.argv[1], "w")
for i in range(1, 41):
    out.write('{"op":"create_accounts","events":[{"id":%d,"ledger":860,"code":%d}]}\n' % (i, i))
    out.write('{"op":"query_accounts","filter":{"ledger":860,"limit":8189}}\n')
    out.write('{"op":"lookup_accounts","ids":[%d]}\n' % i)
PY
"$KHORGOS" apply <"$work/queries" >"$work/queries.out" 2>/dev/null
python3 - "$work/queries.out" <<'PY'
import json, sys
replies = [json.loads(line) for line in open(sys.argv[1])]
assert len(replies) == 120, len(replies)
for i in range(1, 41):
    create, query, lookup = replies[3 * i - 3: 3 * i]
    assert create["results"][0]["status"] == "created", create
    assert [a["id"] for a in query["accounts"]] == [str(k) for k in range(1, i + 1)], (i, query)
    assert lookup["accounts"][0]["code"] == i
print("apply_batching: queries ok")
PY
