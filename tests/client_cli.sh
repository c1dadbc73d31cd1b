#!/bin/bash
# client_cli.sh: `khorgos client` beyond docs/api.md's examples (which make test-docs runs
# through it): its usage errors (exit 2), a server that is not there (exit 1 after the timeout,
# naming it), and the engine's refusal of a request answered as apply answers it
# (advance_clock on a server without --clock manual: clock_not_manual, then the session goes
# on); advance_clock journaled, its clock back after a restart. The servers take port 0 (each
# run its own ports).
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

nobody=$(free_port) || fail "no free port"
echo '{"op":"lookup_accounts","ids":["1"]}' |
    "$KHORGOS" client --addresses "127.0.0.1:$nobody" --timeout 1 >"$work/out" 2>"$work/err"
status=$?
[ "$status" -eq 1 ] || fail "no server: exit $status, expected 1"
[ ! -s "$work/out" ] || fail "no server: a reply was written: $(cat "$work/out")"
grep -q "stopped: the server did not answer in time (timeout)" "$work/err" ||
    fail "no server: $(cat "$work/err")"

"$KHORGOS" format --data "$work/data" --cluster 0 >/dev/null || fail "format"
"$KHORGOS" start --data "$work/data" --addresses 127.0.0.1:0 2>"$work/server.err" &
server=$!
port=$(listening_port "$work/server.err")
[ -n "$port" ] || fail "the server named no port: $(cat "$work/server.err")"
input='{"op":"advance_clock","seconds":1}
{"op":"lookup_accounts","ids":["1"],"colour":1}
{"op":"create_accounts","events":[{"id":"1","ledger":398,"code":1}]}'
echo "$input" | "$KHORGOS" client --addresses "$port" >"$work/client.out" 2>"$work/client.err" ||
    fail "client: $(cat "$work/client.err")"
echo "$input" | "$KHORGOS" apply 2>/dev/null | sed 's/"timestamp":"[0-9]*"/"timestamp":T/' \
    >"$work/apply.out"
sed 's/"timestamp":"[0-9]*"/"timestamp":T/' "$work/client.out" >"$work/client.masked"
diff "$work/apply.out" "$work/client.masked" || fail "client and apply differ (timestamps aside)"
grep -q '"error":{"code":"clock_not_manual"' "$work/client.out" || fail "no clock_not_manual"
kill "$server" && wait "$server" || fail "the server did not stop cleanly"
server=

# advance_clock is journaled: a server restarted with --clock manual has the clock it had, and
# inspect shows the move.
"$KHORGOS" format --data "$work/clock" --cluster 0 >/dev/null || fail "format"
for round in 1 2; do
    "$KHORGOS" start --data "$work/clock" --addresses 127.0.0.1:0 --clock manual \
        2>"$work/clock$round.err" &
    server=$!
    port=$(listening_port "$work/clock$round.err")
    [ -n "$port" ] || fail "the server named no port: $(cat "$work/clock$round.err")"
    seconds=$([ "$round" -eq 1 ] && echo 60 || echo 0)
    echo "{\"op\":\"advance_clock\",\"seconds\":$seconds}" |
        "$KHORGOS" client --addresses "$port" >"$work/clock.out" 2>"$work/client.err" ||
        fail "client: $(cat "$work/client.err")"
    grep -q '"now":"1684454460000000000"' "$work/clock.out" ||
        fail "round $round: $(cat "$work/clock.out")"
    kill "$server" && wait "$server" || fail "the server did not stop cleanly"
    server=
done
"$KHORGOS" inspect --data "$work/clock" >"$work/inspect.out" 2>/dev/null
grep -q "advance_clock *the manual clock moves 60000000000 ns" "$work/inspect.out" ||
    fail "inspect: $(cat "$work/inspect.out")"
echo "ok: usage, no server, the engine's refusal through khorgos client, a journaled clock"
