#!/bin/bash
# server_tls.sh: `khorgos start`'s TLS options from the command line. TLS options come all
# three or not at all (exit 2); a certificate file that does not load is refused with exit 2,
# naming the file; with TLS a non-loopback address is served; `openssl s_client` with a
# certificate from scripts/dev-ca.sh completes a TLS 1.3 handshake, and with -tls1_2 is refused;
# SIGHUP reloads (and a reload that fails keeps the old files); a bad --max-connections or
# timeout is a usage error; without TLS, SIGHUP says there is nothing to reload.
. "$(dirname "$0")/support/server_test.sh"


ca=$work/ca
sh scripts/dev-ca.sh "$ca" BANKDEFF >/dev/null || fail "dev-ca.sh"
for file in ca.crt ca.key server.crt server.key BANKDEFF.crt BANKDEFF.key; do
    [ -s "$ca/$file" ] || fail "dev-ca.sh wrote no $file"
done
openssl x509 -in "$ca/BANKDEFF.crt" -noout -subject | grep -q "CN *= *BANKDEFF" ||
    fail "BANKDEFF.crt's subject"
"$KHORGOS" format --data "$work/data" >/dev/null || fail "format"
tls=(--tls-cert "$ca/server.crt" --tls-key "$ca/server.key" --tls-ca "$ca/ca.crt")

"$KHORGOS" start --data "$work/data" --tls-cert "$ca/server.crt" 2>"$work/err"
[ "$?" -eq 2 ] || fail "--tls-cert alone: not a usage error"
grep -q "TLS needs all of --tls-cert, --tls-key and --tls-ca" "$work/err" || fail "$(cat "$work/err")"
"$KHORGOS" start --data "$work/data" "${tls[@]}" --tls-crl "$work/missing.pem" 2>"$work/err"
[ "$?" -eq 2 ] || fail "a missing CRL: not exit 2"
grep -q "event=refused reason=\"TLS: $work/missing.pem: " "$work/err" || fail "$(cat "$work/err")"
grep -q "event=opened" "$work/err" && fail "the data directory was opened"
for bad in "--max-connections 0" "--max-connections 65537" "--idle-timeout-ms x" \
    "--handshake-timeout-ms 0"; do
    # shellcheck disable=SC2086
    "$KHORGOS" start --data "$work/data" $bad 2>/dev/null
    [ "$?" -eq 2 ] || fail "$bad: not a usage error"
done

"$KHORGOS" start --data "$work/data" --addresses 0.0.0.0:0 "${tls[@]}" 2>"$work/log" &
server=$!
wait_for "$work/log" "event=serving"
grep -q "transport=tls loopback=no" "$work/log" || fail "$(cat "$work/log")"
port=$(sed -n 's/.*event=listening .* port=\([0-9]*\) .*/\1/p' "$work/log")
client=(-connect "127.0.0.1:$port" -CAfile "$ca/ca.crt" -cert "$ca/BANKDEFF.crt"
        -key "$ca/BANKDEFF.key")
echo | timeout 10 openssl s_client "${client[@]}" -brief >"$work/s" 2>&1
grep -q "Protocol version: TLSv1.3" "$work/s" || fail "no TLS 1.3 handshake: $(cat "$work/s")"
wait_for "$work/log" "identity=BANKDEFFXXX role=participant"
echo | timeout 10 openssl s_client -tls1_2 "${client[@]}" -brief >"$work/s" 2>&1
grep -q "Protocol version" "$work/s" && fail "TLS 1.2 was accepted"
wait_for "$work/log" 'reason="TLS handshake: unsupported protocol"'
kill -HUP "$server"
wait_for "$work/log" "event=reloaded .* loads=2"
mv "$ca/server.key" "$ca/server.key.moved"
kill -HUP "$server"
wait_for "$work/log" "event=reload_failed reason=\"TLS: $ca/server.key: .*kept=previous"
echo | timeout 10 openssl s_client "${client[@]}" -brief >"$work/s" 2>&1
grep -q "Protocol version: TLSv1.3" "$work/s" || fail "the old files were not kept"
stop

"$KHORGOS" start --data "$work/data" --addresses 127.0.0.1:0 2>"$work/log" &
server=$!
wait_for "$work/log" "event=serving"
grep -q 'event=plaintext reason="no TLS options' "$work/log" || fail "no plaintext line"
kill -HUP "$server"
wait_for "$work/log" "event=reload_skipped"
stop
echo "ok"
