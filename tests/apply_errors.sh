#!/bin/bash
# apply_errors.sh: each way a line can be refused gets its stable error code and its line
# number, changes nothing, and the line after it is served; usage errors exit with status 2.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

python3 - "$work/in" <<'PY'
import sys
lines = [
    '{"op":"create_accounts","events":[{"id":1,"ledger":156,"code":1}]}',
    'not json',                                                        # invalid_json
    '[1]',                                                             # not_an_object
    '{"events":[]}',                                                   # missing_op
    '{"op":"create_everything"}',                                      # unknown_op
    '{"op":"create_accounts","events":[{"id":2,"ledger":156,"code":1,"colour":"red"}]}',
    '{"op":"create_accounts","events":[{"id":2,"id":3}]}',            # duplicate_field
    '{"op":"create_accounts","events":[{"id":2,"ledger":"156"}]}',    # wrong_type
    '{"op":"create_accounts","events":[{"id":2,"ledger":156,"code":65536}]}',  # out_of_range
    '{"op":"create_accounts","events":[{"id":2,"flags":["gold"]}]}',  # unknown_flag
    '{"op":"create_accounts","events":[' + ",".join(['{}'] * 8190) + ']}',      # too_many_events
    '[' * 9 + ']' * 9,                                                 # too_deep
    '{"op":"create_accounts","events":[{"id":"' + "1" * (8189 * 1024) + '"}]}', # line_too_long
    '{"op":"lookup_accounts","ids":[1,2]}',
]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY

"$KHORGOS" apply <"$work/in" >"$work/out" 2>/dev/null
python3 - "$work/out" <<'PY'
import json, sys
replies = [json.loads(line) for line in open(sys.argv[1])]
expected = [None, "invalid_json", "not_an_object", "missing_op", "unknown_op", "unknown_field",
            "duplicate_field", "wrong_type", "out_of_range", "unknown_flag", "too_many_events",
            "too_deep", "line_too_long", None]
assert len(replies) == len(expected), [r.get("error") for r in replies]
for number, (reply, code) in enumerate(zip(replies, expected), start=1):
    if code is None:
        assert "error" not in reply, reply
        continue
    assert reply["error"]["code"] == code, (number, reply)
    assert reply["line"] == number, (number, reply)
    assert reply["error"]["message"], reply
ops = [reply.get("op") for reply in replies]
assert ops[4] == "create_everything", "an unknown op is echoed"
assert ops[5] == "create_accounts" and ops[1] is None and ops[12] is None
# Nothing of the refused lines was applied: only account 1 exists.
assert [a["id"] for a in replies[-1]["accounts"]] == ["1"], replies[-1]
print("apply_errors: ok")
PY

# 8189 events is the limit, not an error.
python3 -c 'print("{\"op\":\"lookup_accounts\",\"ids\":[" + ",".join(["1"] * 8189) + "]}")' |
    "$KHORGOS" apply 2>/dev/null | grep -q '^{"op":"lookup_accounts","accounts":\['

# Usage errors: exit status 2 and a message on standard error.
status=0; "$KHORGOS" apply --bogus </dev/null 2>"$work/err" || status=$?
[ "$status" -eq 2 ] && grep -q "unknown option" "$work/err"
status=0; "$KHORGOS" apply --clock sundial </dev/null 2>"$work/err" || status=$?
[ "$status" -eq 2 ]
status=0; "$KHORGOS" no-such-command 2>"$work/err" || status=$?
[ "$status" -eq 2 ] && grep -q "unknown command" "$work/err"
"$KHORGOS" --help | grep -q apply
"$KHORGOS" apply --help 2>&1 | grep -q -- "--clock manual"
echo "apply_errors: usage ok"

# A request that would pass a capacity given at start is refused whole with capacity_full.
printf '%s\n' '{"op":"create_accounts","events":[{"id":1,"ledger":1,"code":1},{"id":2,"ledger":1,"code":1},{"id":3,"ledger":1,"code":1}]}' \
    '{"op":"lookup_accounts","ids":[1]}' |
    "$KHORGOS" apply --accounts 2 --transfers 8 --balances 8 2>/dev/null >"$work/capacity"
head -n 1 "$work/capacity" | grep -q '"op":"create_accounts","error":{"code":"capacity_full"'
tail -n 1 "$work/capacity" | grep -q '^{"op":"lookup_accounts","accounts":\[\]}$'
echo "apply_errors: capacity ok"

# Lines far longer than the input buffer are skipped up to their newline (or the end of the
# input), each answered with line_too_long, and the lines between them are served.
python3 -c '
import sys
sys.stdout.write("{\"op\":\"x\",\"pad\":\"" + "a" * (20 * 1024 * 1024) + "\"}\n")
sys.stdout.write("{\"op\":\"lookup_accounts\",\"ids\":[2]}\n")
sys.stdout.write("b" * (9 * 1024 * 1024))
' | "$KHORGOS" apply 2>/dev/null >"$work/long"
[ "$(wc -l <"$work/long")" -eq 3 ]
sed -n 1p "$work/long" | grep -q '"code":"line_too_long".*"line":1}$'
sed -n 2p "$work/long" | grep -q '^{"op":"lookup_accounts","accounts":\[\]}$'
sed -n 3p "$work/long" | grep -q '"code":"line_too_long".*"line":3}$'
echo "apply_errors: long lines ok"
