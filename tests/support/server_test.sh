# server_test.sh: sourced by the shell tests that start `khorgos start` (server_start.sh,
# server_http.sh, server_tls.sh, server_iso20022.sh, client_cli.sh). It checks $KHORGOS, makes
# a scratch folder $work, and at exit kills the server whose pid the test keeps in $server and
# removes $work; fail MESSAGE prints it and ends the test; wait_for FILE TEXT waits for the
# server's log line, stop ends the server with SIGTERM.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill -9 "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
# wait_for FILE TEXT: up to 10 s for TEXT to appear in FILE.
wait_for() {
    for ((tries = 0; tries < 100; tries++)); do
        grep -q "$2" "$1" && return 0
        sleep 0.1
    done
    fail "no '$2' in $1: $(cat "$1")"
}
# listening_port FILE: waits for the event=listening line of a server started on port 0 in its
# log FILE and prints the client port it took, so that tests running at once never collide.
listening_port() {
    wait_for "$1" "event=listening address="
    sed -n 's/.*event=listening address=[^ ]* port=\([0-9]*\) .*/\1/p' "$1" | head -n 1
}
# free_port: a loopback port nothing listens on (bound, then released).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
# stop: SIGTERM to $server, which must exit 0.
stop() {
    kill -TERM "$server"
    wait "$server"
    local status=$?
    server=
    [ "$status" -eq 0 ] || fail "exit $status after SIGTERM"
}
