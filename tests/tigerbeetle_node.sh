#!/bin/bash
# tigerbeetle_node.sh: TigerBeetle's own Node client test suite (the 27 tests of the npm
# package tigerbeetle-node 0.17.9, dist/test.js) against `khorgos start` on a freshly formatted
# data directory, over 127.0.0.1. The package is installed into build/node (never committed);
# the test is skipped, saying so, only when npm cannot fetch it. It asserts how many tests
# pass, then that SIGTERM stops the server cleanly (exit 0).
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
PASSED_EXPECTED=27
root=$(cd "$(dirname "$0")/.." && pwd)
node_dir=$root/build/node
suite=$node_dir/node_modules/tigerbeetle-node/dist/test.js
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill -9 "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$work/server.err" ] && tail -n 20 "$work/server.err"; exit 1; }

if [ ! -f "$suite" ]; then
    if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
        echo "SKIP: node or npm is not installed"; exit 0
    fi
    mkdir -p "$node_dir"
    if ! (cd "$node_dir" && timeout 120 npm install --no-audit --no-fund \
        tigerbeetle-node@0.17.9 >"$work/npm.log" 2>&1); then
        echo "SKIP: npm could not install tigerbeetle-node@0.17.9 from the registry:"
        tail -n 5 "$work/npm.log"
        exit 0
    fi
fi

"$KHORGOS" format --data "$work/data" --cluster 0 >/dev/null || fail "format"
"$KHORGOS" start --data "$work/data" --addresses 127.0.0.1:0 2>"$work/server.err" &
server=$!
port=
for ((tries = 0; tries < 100; tries++)); do
    port=$(sed -n 's/.*event=listening .* port=\([0-9]*\).*/\1/p' "$work/server.err")
    grep -q "event=serving" "$work/server.err" && [ -n "$port" ] && break
    sleep 0.1
done
grep -q "event=serving" "$work/server.err" || fail "the server did not start in 10 s"

TB_ADDRESS=$port timeout 120 node "$suite" >"$work/suite.out" 2>&1
passed=$(grep -c ': PASSED$' "$work/suite.out")
echo "tigerbeetle-node 0.17.9 suite: $passed passed"
grep -v ': PASSED$' "$work/suite.out" | head -n 40
[ "$passed" -eq "$PASSED_EXPECTED" ] || fail "$passed tests passed, expected $PASSED_EXPECTED"

kill -TERM "$server"
for ((tries = 0; tries < 100; tries++)); do
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$server" 2>/dev/null && fail "the server still runs 10 s after SIGTERM"
wait "$server"
status=$?
server=
[ "$status" -eq 0 ] || fail "the server exited $status after SIGTERM"
grep -q "event=stopped" "$work/server.err" || fail "no event=stopped line"
echo "ok"
