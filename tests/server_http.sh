#!/bin/bash
# server_http.sh: `khorgos start --http`: a non-loopback HTTP address is refused like the main
# port's (exit 2, the reason on stderr, the data directory not opened), as is an address that
# does not parse; an HTTP port already taken is a failure (exit 1); a server with --http
# 127.0.0.1:0 names its port in the event=listening line, answers /health and /ready, and
# stops on SIGTERM with exit 0 (the tests of the page itself: tests/test_server_http.c).
. "$(dirname "$0")/support/server_test.sh"
get() { # URL: "CODE BODY"
    local body
    body=$(curl -s -o "$work/body" -w '%{http_code}' --max-time 5 "$1")
    echo "$body $(head -c 200 "$work/body")"
}

"$KHORGOS" format --data "$work/data" >/dev/null || fail "format"

"$KHORGOS" start --data "$work/data" --addresses 0 --http 0.0.0.0:4474 2>"$work/err"
status=$?
[ "$status" -eq 2 ] || fail "a non-loopback HTTP address: exit $status, expected 2"
grep -q 'event=refused http=0.0.0.0:4474 reason="the HTTP port is plaintext' "$work/err" ||
    fail "no reason: $(cat "$work/err")"
grep -q "event=opened" "$work/err" && fail "the data directory was opened"
"$KHORGOS" start --data "$work/data" --addresses 0 --http 127.0.0.1:http 2>"$work/err"
[ "$?" -eq 2 ] || fail "an HTTP address that does not parse was not a usage error"

python3 -c 'import socket,sys,time
s = socket.socket(); s.bind(("127.0.0.1", 4475)); s.listen(); open(sys.argv[1], "w").close()
time.sleep(30)' "$work/bound" &
holder=$!
for ((tries = 0; tries < 100; tries++)); do
    [ -e "$work/bound" ] && break
    sleep 0.1
done
[ -e "$work/bound" ] || { kill "$holder"; fail "port 4475 could not be taken for the test"; }
"$KHORGOS" start --data "$work/data" --addresses 0 --http 4475 2>"$work/err"
status=$?
kill "$holder"
[ "$status" -eq 1 ] || fail "an HTTP port in use: exit $status, expected 1: $(cat "$work/err")"
grep -q 'event=refused http=4475 reason="address already in use"' "$work/err" ||
    fail "$(cat "$work/err")"

"$KHORGOS" start --data "$work/data" --addresses 0 --http 127.0.0.1:0 2>"$work/log" &
server=$!
for ((tries = 0; tries < 100; tries++)); do
    grep -q "event=serving" "$work/log" && break
    sleep 0.1
done
grep -q "event=serving" "$work/log" || fail "the server did not start in 10 s"
port=$(sed -n 's/.*event=listening http=127.0.0.1:0 port=\([0-9]*\) .*/\1/p' "$work/log")
[ -n "$port" ] || fail "no HTTP port in the log: $(cat "$work/log")"
[ "$(get "http://127.0.0.1:$port/health")" = "200 alive" ] || fail "/health"
[ "$(get "http://127.0.0.1:$port/ready")" = "200 ready" ] || fail "/ready"
[ "$(get "http://127.0.0.1:$port/nothing" | cut -d' ' -f1)" = 404 ] || fail "404"
get "http://127.0.0.1:$port/metrics" | grep -q '^200 # HELP khorgos_ready ' || fail "/metrics"
kill -TERM "$server"
wait "$server"
status=$?
server=
[ "$status" -eq 0 ] || fail "exit $status after SIGTERM"
echo "ok"
