# server_test.sh: sourced by the shell tests that start `khorgos start` (server_start.sh,
# server_http.sh, server_tls.sh, client_cli.sh). It checks $KHORGOS, makes a scratch folder
# $work, and at exit kills the server whose pid the test keeps in $server and removes $work;
# fail MESSAGE prints it and ends the test.
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
