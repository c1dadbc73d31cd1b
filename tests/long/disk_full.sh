#!/bin/bash
# disk_full.sh (make test-long, as root): `khorgos apply --data` on a small tmpfs, fed transfers
# until the file system is full. It must stop cleanly: exit status 1, one message naming the
# file and "No space left on device", no assertion, no reply after the failure. Then the
# file system is enlarged (remount) and a restart must hold every acknowledged transfer,
# pass `check` and serve again. Skipped (exit 0) when not root: mounting needs it.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
KHORGOS=$(realpath "$KHORGOS")
if [ "$(id -u)" -ne 0 ]; then echo "skip: disk_full.sh mounts a tmpfs and needs root"; exit 0; fi
work=$(mktemp -d)
mount=$work/mount
mkdir "$mount"
mount -t tmpfs -o size=100m tmpfs "$mount"
trap 'umount "$mount" 2>/dev/null; rm -rf "$work"' EXIT
data=$mount/data
LINES=700 # of 1000 transfers: 90 MB of journal, more than the 100 MB file system can take

"$KHORGOS" format --data "$data" --accounts 16 --transfers 1000000 >/dev/null
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
"$KHORGOS" apply --data "$data" <"$work/in" >"$work/out" 2>"$work/err" || status=$?
cat "$work/err"
[ "$status" -eq 1 ] || { echo "FAIL: exit status $status, expected 1"; exit 1; }
grep -q "assertion" "$work/err" && { echo "FAIL: an assertion"; exit 1; }
grep -Eq "^khorgos apply: $data/[a-z0-9.-]+: ([a-z_]+: )?No space left on device; stopped" \
    "$work/err" ||
    { echo "FAIL: the message names no file and cause"; exit 1; }
acknowledged=$(grep -c '"status":"created"' "$work/out" || true)
[ "$acknowledged" -gt 0 ] && [ "$acknowledged" -lt "$LINES" ] ||
    { echo "FAIL: $acknowledged of $LINES lines acknowledged"; exit 1; }
df -h "$mount" | tail -n 1

mount -o remount,size=400m "$mount" # space freed
last=$((acknowledged * 1000))
printf '%s\n' '{"op":"lookup_accounts","ids":["1"]}' \
    "{\"op\":\"lookup_transfers\",\"ids\":[\"$last\"]}" |
    "$KHORGOS" apply --data "$data" >"$work/after" 2>"$work/err" ||
    { cat "$work/err"; echo "FAIL: the restart"; exit 1; }
debits=$(sed -n 1p "$work/after" | grep -o '"debits_posted":"[0-9]*"' | grep -o '[0-9]*')
[ "$debits" -ge "$last" ] && [ "$debits" -le $((LINES * 1000)) ] ||
    { echo "FAIL: $debits transfers recovered, $last acknowledged"; exit 1; }
sed -n 2p "$work/after" | grep -q "\"id\":\"$last\"" ||
    { echo "FAIL: transfer $last (acknowledged) is missing"; exit 1; }
"$KHORGOS" check --data "$data" >/dev/null || { echo "FAIL: check after the restart"; exit 1; }
next=$((debits + 1))
echo "{\"op\":\"create_transfers\",\"events\":[{\"id\":\"$next\",\"debit_account_id\":\"1\",\"credit_account_id\":\"2\",\"amount\":1,\"ledger\":156,\"code\":1}]}" |
    "$KHORGOS" apply --data "$data" | grep -q '"status":"created"' ||
    { echo "FAIL: it does not serve after the restart"; exit 1; }
echo "ok: stopped after $acknowledged of $LINES lines, $debits transfers recovered, serving"
