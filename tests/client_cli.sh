#!/bin/bash
# client_cli.sh: `khorgos client` beyond docs/api.md's examples (which make test-docs runs
# through it): its usage errors (exit 2), a server that is not there (exit 1 after the timeout,
# naming it), and the engine's refusal of a request answered as apply answers it
# (advance_clock on a server without --clock manual: clock_not_manual, then the session goes
# on). Ports 4460 and 4461.
. "$(dirname "$0")/support/server_test.sh"

for arguments in "" "--addresses" "--addresses host:1" "--addresses 4460 --tls-ca ca.crt" \
    "--addresses 4460 --timeout 0" "--addresses 4460 --colour red" \
    "--addresses 4460 --tls-ca ca.crt --tls-cert c.crt --tls-key c.key"; do
    # shellcheck disable=SC2086
    "$KHORGOS" client $arguments </dev/null >/dev/null 2>"$work/usage.err"
    status=$?
    [ "$status" -eq 2 ] || fail "client $arguments: exit $status, expected 2"
done
"$KHORGOS" client --addresses 4460 --tls-cert c 2>"$work/tls.err"
grep -q "TLS takes --tls-cert, --tls-key and --tls-ca" "$work/tls.err" ||
    fail "--tls-cert alone: no reason given"

echo '{"op":"lookup_accounts","ids":["1"]}' |
    "$KHORGOS" client --addresses 127.0.0.1:4460 --timeout 1 >"$work/out" 2>"$work/err"
status=$?
[ "$status" -eq 1 ] || fail "no server: exit $status, expected 1"
[ ! -s "$work/out" ] || fail "no server: a reply was written: $(cat "$work/out")"
grep -q "stopped: the server did not answer in time (timeout)" "$work/err" ||
    fail "no server: $(cat "$work/err")"

"$KHORGOS" format --data "$work/data" --cluster 0 >/dev/null || fail "format"
"$KHORGOS" start --data "$work/data" --addresses 127.0.0.1:4461 2>"$work/server.err" &
server=$!
input='{"op":"advance_clock","seconds":1}
{"op":"lookup_accounts","ids":["1"],"colour":1}
{"op":"create_accounts","events":[{"id":"1","ledger":398,"code":1}]}'
echo "$input" | "$KHORGOS" client --addresses 4461 >"$work/client.out" 2>"$work/client.err" ||
    fail "client: $(cat "$work/client.err")"
echo "$input" | "$KHORGOS" apply 2>/dev/null | sed 's/"timestamp":"[0-9]*"/"timestamp":T/' \
    >"$work/apply.out"
sed 's/"timestamp":"[0-9]*"/"timestamp":T/' "$work/client.out" >"$work/client.masked"
diff "$work/apply.out" "$work/client.masked" || fail "client and apply differ (timestamps aside)"
grep -q '"error":{"code":"clock_not_manual"' "$work/client.out" || fail "no clock_not_manual"
kill "$server" && wait "$server" || fail "the server did not stop cleanly"
server=
echo "ok: usage, no server, and the engine's refusal through khorgos client"
