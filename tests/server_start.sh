#!/bin/bash
# server_start.sh: `khorgos start` refuses what it cannot serve safely, before touching the data
# directory: a non-loopback address without TLS (exit 2, the reason on stderr), an address that
# does not parse, a missing --data; and a second server on a directory already served is
# refused (locked) while the first goes on serving; SIGINT stops the first with exit 0. The
# cluster id is the directory's: format records it (--cluster, else a random one it prints),
# check and inspect show it, start serves it; a format without --cluster picks another each
# time.
. "$(dirname "$0")/support/server_test.sh"

"$KHORGOS" format --data "$work/data" --cluster 340282366920938463463374607431768211455 \
    >"$work/format" || fail "format"
cluster=340282366920938463463374607431768211455
grep -q "(format version 4, cluster $cluster)" "$work/format" || fail "$(cat "$work/format")"
"$KHORGOS" check --data "$work/data" | grep -qx "cluster: $cluster" || fail "check: no cluster"
"$KHORGOS" inspect --data "$work/data" | grep -qx "cluster $cluster" || fail "inspect: no cluster"
"$KHORGOS" format --data "$work/random1" | sed 's/.*cluster \([0-9]*\)).*/\1/' >"$work/c1"
"$KHORGOS" format --data "$work/random2" | sed 's/.*cluster \([0-9]*\)).*/\1/' >"$work/c2"
grep -qx '[0-9]\{1,39\}' "$work/c1" || fail "format printed no cluster: $(cat "$work/c1")"
cmp -s "$work/c1" "$work/c2" && fail "two formats took the same random cluster"
"$KHORGOS" format --data "$work/bad" --cluster 12x 2>/dev/null && fail "--cluster 12x accepted"

"$KHORGOS" start --data "$work/data" --addresses 0.0.0.0:4120 2>"$work/err"
status=$?
[ "$status" -eq 2 ] || fail "a non-loopback address: exit $status, expected 2"
grep -q 'event=refused address=0.0.0.0:4120 reason="plaintext is served only on a loopback' \
    "$work/err" || fail "no reason for the refusal: $(cat "$work/err")"
grep -q "event=opened" "$work/err" && fail "the data directory was opened"

"$KHORGOS" start --data "$work/data" --addresses 127.0.0.1:notaport 2>"$work/err"
[ "$?" -eq 2 ] || fail "a bad port was not a usage error"
"$KHORGOS" start --addresses 127.0.0.1:0 2>"$work/err"
[ "$?" -eq 2 ] || fail "a missing --data was not a usage error"
"$KHORGOS" start --help | grep -q "^    khorgos start --data DIR" || fail "--help"

"$KHORGOS" start --data "$work/data" --addresses 127.0.0.1:0 2>"$work/first" &
server=$!
for ((tries = 0; tries < 100; tries++)); do
    grep -q "event=serving" "$work/first" && break
    sleep 0.1
done
grep -q "event=serving" "$work/first" || fail "the first server did not start in 10 s"
grep -q "event=opened .* cluster=$cluster " "$work/first" || fail "not serving its cluster"
"$KHORGOS" start --data "$work/data" --addresses 127.0.0.1:0 2>"$work/second"
status=$?
[ "$status" -eq 1 ] || fail "a second server on a locked directory: exit $status, expected 1"
grep -q "event=open_failed .* error=locked" "$work/second" || fail "$(cat "$work/second")"
kill -0 "$server" || fail "the first server stopped"

kill -INT "$server"
for ((tries = 0; tries < 100; tries++)); do
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$server" 2>/dev/null && fail "the server still runs 10 s after SIGINT"
wait "$server"
status=$?
server=
[ "$status" -eq 0 ] || fail "exit $status after SIGINT"
grep -q "event=stopping signal=SIGINT" "$work/first" || fail "no stopping line"

# --memory resident: the reservation is resident once serving (a small directory's: about
# 150 MiB, where on-demand leaves about 15 MiB); a value it does not know is a usage error.
"$KHORGOS" start --data "$work/data" --memory lots 2>/dev/null
[ "$?" -eq 2 ] || fail "--memory lots was not a usage error"
"$KHORGOS" format --data "$work/small" --accounts 4096 --transfers 262144 --balances 65536 \
    --payments 4096 >/dev/null || fail "format small"
"$KHORGOS" start --data "$work/small" --addresses 127.0.0.1:0 --memory resident \
    2>"$work/resident" &
server=$!
for ((tries = 0; tries < 300; tries++)); do
    grep -q "event=serving" "$work/resident" && break
    sleep 0.1
done
grep -q "event=opened .* memory=resident" "$work/resident" || fail "$(cat "$work/resident")"
resident_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$server/status")
[ "$resident_kib" -gt 102400 ] || fail "--memory resident: only $resident_kib KiB resident"
kill -TERM "$server"
wait "$server" || fail "exit $? after SIGTERM"
server=
echo "ok"
