#!/bin/bash
# client_tls.sh: the C client's mutual TLS (TLS 1.3, `khorgos client --tls-cert --tls-key
# --tls-ca`), against a TLS-terminating proxy (Python's ssl module: TLS 1.3 only, a client
# certificate signed by the CA required) in front of `khorgos start --clock manual`:
# docs/api.md's first example gives apply's replies byte for byte through it; a client
# certificate from another CA, and a server the client's CA did not sign, get no answer
# (exit 1); the Python client reads back over TLS what the C client wrote. Certificates are
# made with openssl for the test. The server and the proxy each take port 0 and say which port
# they took, so that runs at once never collide.
set -u
KHORGOS=${KHORGOS:-build/khorgos}
[ -x "$KHORGOS" ] || { echo "no $KHORGOS (run make first)"; exit 1; }
command -v openssl >/dev/null || { echo "SKIP: no openssl command"; exit 0; }
root=$(cd "$(dirname "$0")/.." && pwd)
KHORGOS=$(cd "$(dirname "$KHORGOS")" && pwd)/$(basename "$KHORGOS")
. "$root/tests/support/server_test.sh" # $work, $server, wait_for, listening_port
proxy=
cleanup() {
    [ -n "$server" ] && kill -9 "$server" 2>/dev/null
    [ -n "$proxy" ] && kill -9 "$proxy" 2>/dev/null
    rm -rf "$work"
}
fail() { echo "FAIL: $*"; cat "$work"/*.err 2>/dev/null | tail -n 20; exit 1; }
cd "$work" || fail "cd"

# A CA, a server certificate for 127.0.0.1, a client certificate; and another CA's client.
certificate() { # NAME CA CN [EXTENSIONS]
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.csr" -subj "/CN=$3" 2>/dev/null || fail "openssl req $1"
    printf '%s\n' "${4:-basicConstraints=CA:FALSE}" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null || fail "openssl x509 $1"
}
for ca in ca rogue; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ca.key" \
        -out "$ca.crt" -subj "/CN=$ca" -days 2 2>/dev/null || fail "openssl req $ca"
done
certificate server ca localhost "subjectAltName=IP:127.0.0.1,DNS:localhost"
certificate operator ca operator
certificate intruder rogue operator

cat >proxy.py <<'PY'
import socket, ssl, sys, threading
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.minimum_version = ssl.TLSVersion.TLSv1_3
context.verify_mode = ssl.CERT_REQUIRED
context.load_verify_locations("ca.crt")
context.load_cert_chain("server.crt", "server.key")
listener = socket.create_server(("127.0.0.1", 0))
print("listening port=%d" % listener.getsockname()[1], flush=True)
def pipe(source, target):
    try:
        while data := source.recv(1 << 16):
            target.sendall(data)
    except OSError:
        pass
    for end in (source, target):
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def serve(connection):
    try:
        secure = context.wrap_socket(connection, server_side=True)
    except (ssl.SSLError, OSError) as error:
        print("handshake refused:", error, file=sys.stderr, flush=True)
        connection.close()
        return
    upstream = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    threading.Thread(target=pipe, args=(secure, upstream), daemon=True).start()
    pipe(upstream, secure)
while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
PY
"$KHORGOS" format --data data --cluster 0 >/dev/null || fail "format"
"$KHORGOS" start --data data --addresses 127.0.0.1:0 --clock manual 2>server.err &
server=$!
server_port=$(listening_port server.err)
python3 proxy.py "$server_port" >proxy.out 2>proxy.err &
proxy=$!
wait_for proxy.out "listening port="
port=$(sed -n 's/^listening port=\([0-9]*\)$/\1/p' proxy.out)

python3 - "$root/docs/api.md" >example.jsonl <<'PY'
import re, sys
text = open(sys.argv[1]).read()
print(re.findall(r"<!-- run: khorgos apply --clock manual -->\n```\n(.*?)```", text, re.S)[0],
      end="")
PY
# A client's register and reads are journaled requests of its session and take timestamps
# (apply's reads do not): the outputs are compared without the timestamps' values.
"$KHORGOS" apply --clock manual <example.jsonl >apply.out 2>/dev/null || fail "apply"
sed -i -E 's/"(\w*timestamp\w*|\w+_at)":"[0-9]+"/"\1":"T"/g' apply.out
"$KHORGOS" client --addresses 127.0.0.1:$port --tls-cert operator.crt --tls-key operator.key \
    --tls-ca ca.crt --timeout 30 <example.jsonl >client.out 2>client.err || fail "client over TLS"
sed -i -E 's/"(\w*timestamp\w*|\w+_at)":"[0-9]+"/"\1":"T"/g' client.out
cmp -s apply.out client.out || { diff apply.out client.out; fail "TLS replies differ"; }
[ "$(wc -l <client.out)" -eq 11 ] || fail "expected 11 replies"

echo '{"op":"lookup_accounts","ids":["1"]}' >lookup.jsonl
"$KHORGOS" client --addresses 127.0.0.1:$port --tls-cert intruder.crt --tls-key intruder.key \
    --tls-ca rogue.crt --timeout 1 <lookup.jsonl >intruder.out 2>intruder.err
[ $? -eq 1 ] && [ ! -s intruder.out ] || fail "another CA's client was answered"
grep -q "handshake refused" proxy.err || fail "the proxy did not refuse the intruder"
"$KHORGOS" client --addresses 127.0.0.1:$port --tls-cert operator.crt --tls-key operator.key \
    --tls-ca rogue.crt --timeout 1 <lookup.jsonl >unverified.out 2>unverified.err
[ $? -eq 1 ] && [ ! -s unverified.out ] || fail "a server the CA did not sign was used"
"$KHORGOS" client --addresses 127.0.0.1:$port --tls-cert operator.crt --tls-key intruder.key \
    --tls-ca ca.crt <lookup.jsonl >/dev/null 2>mismatch.err
[ $? -eq 2 ] && grep -q "TLS files do not load" mismatch.err || fail "a key of another cert"

# The Python client over the same TLS (from the source tree).
PYTHONPATH="$root/clients/python" python3 - "$port" >python.out 2>python.err <<'PY' || fail python
import sys
import khorgos
client = khorgos.Client(addresses=["127.0.0.1:" + sys.argv[1]], timeout=30,
                        tls_cert="operator.crt", tls_key="operator.key", tls_ca="ca.crt")
print([account.id for account in client.lookup_accounts([1, 2])])
client.close()
PY
[ "$(cat python.out)" = "[1, 2]" ] || fail "python over TLS: $(cat python.out)"

kill "$server" && wait "$server" || fail "the server did not stop cleanly"
server=
kill "$proxy" && wait "$proxy" 2>/dev/null
proxy=
echo "ok: mutual TLS 1.3 through khorgos client and the Python client"
