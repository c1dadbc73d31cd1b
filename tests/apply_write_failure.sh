#!/bin/bash
# apply_write_failure.sh: when a journal write fails, `khorgos apply --data` stops cleanly: no
# reply after the failed batch, exit status 1 and one message naming the file and the cause
# (never an assertion, whatever input is still waiting), and a restart recovers every
# acknowledged transfer. The write fails through the file-size limit (ulimit -f, with SIGXFSZ
# ignored, so pwrite past it fails with EFBIG), which needs no root; a real full file system
# is tests/long/disk_full.sh, the simulated one tests/test_storage_stop.c.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
data=$work/data
LINES=100       # of 1000 transfers each, 128 bytes a transfer: about 13 MB of journal
LIMIT_KIB=8192  # journal writes past 8 MiB fail

"$KHORGOS" format --data "$data" --accounts 16 --transfers 200000 >/dev/null
echo '{"op":"create_accounts","events":[{"id":1,"ledger":156,"code":1},{"id":2,"ledger":156,"code":1}]}' |
    "$KHORGOS" apply --data "$data" >/dev/null 2>&1
python3 - "$work/in" "$LINES" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    for line in range(int(sys.argv[2])):
        events = ",".join('{"id":"%d","debit_account_id":"1","credit_account_id":"2",'
                          '"amount":1,"ledger":156,"code":1}' % (line * 1000 + k + 1)
                          for k in range(1000))
        out.write('{"op":"create_transfers","events":[%s]}\n' % events)
PY

status=0
(trap '' XFSZ; ulimit -f "$LIMIT_KIB"; exec "$KHORGOS" apply --data "$data" <"$work/in" \
    >"$work/out" 2>"$work/err") || status=$?
cat "$work/err"
[ "$status" -eq 1 ] || { echo "FAIL: exit status $status, expected 1"; exit 1; }
grep -q "assertion" "$work/err" && { echo "FAIL: an assertion"; exit 1; }
[ "$(wc -l <"$work/err")" -eq 1 ] || { echo "FAIL: expected one message"; exit 1; }
grep -Eq "^khorgos apply: $data/(journal|headers)-[0-9a-f]{16}: ([a-z_]+: )?File too large; stopped" \
    "$work/err" || { echo "FAIL: the message names no file and cause"; exit 1; }
acknowledged=$(grep -c '"status":"created"' "$work/out" || true)
[ "$acknowledged" -gt 0 ] && [ "$acknowledged" -lt "$LINES" ] ||
    { echo "FAIL: $acknowledged of $LINES lines acknowledged"; exit 1; }
grep -vq '"status":"created"' "$work/out" && { echo "FAIL: a reply that is not created"; exit 1; }

# The limit lifted: every acknowledged transfer is there (the last one looked up by id), and
# at most the ones attempted.
last=$((acknowledged * 1000))
printf '%s\n' '{"op":"lookup_accounts","ids":["1"]}' \
    "{\"op\":\"lookup_transfers\",\"ids\":[\"$last\"]}" |
    "$KHORGOS" apply --data "$data" >"$work/after" 2>"$work/err"
debits=$(sed -n 1p "$work/after" | grep -o '"debits_posted":"[0-9]*"' | grep -o '[0-9]*')
[ "$debits" -ge "$last" ] && [ "$debits" -le $((LINES * 1000)) ] ||
    { echo "FAIL: $debits transfers recovered, $last acknowledged"; exit 1; }
sed -n 2p "$work/after" | grep -q "\"id\":\"$last\"" ||
    { echo "FAIL: transfer $last (acknowledged) is missing"; exit 1; }
"$KHORGOS" check --data "$data" >/dev/null
echo "ok: stopped after $acknowledged of $LINES lines, $debits transfers recovered"
