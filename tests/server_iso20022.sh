#!/bin/bash
# server_iso20022.sh: the ISO 20022 operations over the wire. `khorgos message --addresses`
# writes each reply beside its file (the same bytes as `message --data` on a copy of the
# directory gives), a resubmission gets its first reply byte for byte, and the exit status is
# 5 when one was refused; `khorgos client` answers submit_message, get_message_status and
# get_statement lines as apply does. Under mutual TLS (scripts/dev-ca.sh) a bank's message
# whose sender (the instructing agent, or AppHdr/Fr) is another bank is refused RJCT AGNT and
# changes nothing, the bank's own is accepted, the operator may send for anyone, a bank reads
# only its own statement (forbidden), and a later status is pushed to the submitter's sessions
# only (the Python client). The servers take port 0.
. "$(dirname "$0")/support/server_test.sh"
CORPUS=${CORPUS:-tests/iso20022}

setup() { # DIR: participants and an open day
    "$KHORGOS" format --data "$1" --cluster 0 --accounts 1000 --transfers 10000 \
        --balances 1000 --participants 16 --payments 1000 >/dev/null || fail "format"
    "$KHORGOS" apply --data "$1" --clock manual >/dev/null <<'JSON' || fail "setup"
{"op":"create_participants","events":[{"bic":"NBRKKZKX","country":"KZ","role":"settlement_agent","name":"NBK","currencies":["KZT"]},{"bic":"HSBKKZKX","country":"KZ","role":"bank","name":"Halyk","currencies":["KZT"]},{"bic":"KCJBKZKX","country":"KZ","role":"bank","name":"Kaspi","currencies":["KZT"]}]}
{"op":"open_day","events":[{"id":"1","currency":"KZT","date":20230519,"queue_mode":"fifo"}]}
{"op":"fund","events":[{"id":"2","bic":"HSBKKZKX","currency":"KZT","amount":"1000000.00"}]}
JSON
}

# Plaintext on loopback: the operator.
setup "$work/data"
cp -r "$work/data" "$work/copy"
mkdir "$work/local" "$work/remote"
for name in pacs008_v08 pacs008_v08_no_uetr namespace_unknown participant_unknown; do
    cp "$CORPUS/$name.xml" "$work/local/"
    cp "$CORPUS/$name.xml" "$work/remote/"
done
# The corpus's pacs.008s share a MsgId: the second gets one of its own (else DUPL).
sed -i 's|<MsgId>HSBK20230519-0001</MsgId>|<MsgId>HSBK20230519-0002</MsgId>|' \
    "$work/local/pacs008_v08_no_uetr.xml" "$work/remote/pacs008_v08_no_uetr.xml"
files=(pacs008_v08.xml pacs008_v08_no_uetr.xml namespace_unknown.xml participant_unknown.xml)
"$KHORGOS" start --data "$work/data" --addresses 127.0.0.1:0 --clock manual 2>"$work/log" &
server=$!
wait_for "$work/log" "event=serving"
port=$(listening_port "$work/log")
status=0
"$KHORGOS" message --addresses "$port" --timeout 10 "${files[@]/#/$work/remote/}" \
    >"$work/remote.out" || status=$?
[ "$status" -eq 5 ] || fail "message --addresses: exit $status, expected 5"
status=0
"$KHORGOS" message --data "$work/copy" --clock manual "${files[@]/#/$work/local/}" \
    >/dev/null || status=$?
[ "$status" -eq 5 ] || fail "message --data: exit $status, expected 5"
for name in "${files[@]%.xml}"; do
    cmp -s "$work/local/$name.reply.xml" "$work/remote/$name.reply.xml" ||
        fail "$name: the server's reply differs from the local one"
done
grep -q "pacs008_v08.xml: ACSC -> .*pacs008_v08.reply.xml" "$work/remote.out" ||
    fail "$(cat "$work/remote.out")"
grep -q "namespace_unknown.xml: RJCT FF01" "$work/remote.out" || fail "$(cat "$work/remote.out")"
cp "$work/remote/pacs008_v08.reply.xml" "$work/first.xml"
"$KHORGOS" message --addresses "$port" "$work/remote/pacs008_v08.xml" >/dev/null ||
    fail "a resubmission: exit $?"
cmp -s "$work/first.xml" "$work/remote/pacs008_v08.reply.xml" ||
    fail "a resubmission got another reply"

"$KHORGOS" client --addresses "$port" --timeout 10 >"$work/lines" <<'JSON' || fail "client: exit $?"
{"op":"get_message_status","events":[{"uetr":"e7985fdc-04da-494d-9f89-cc9502ea84bb"}]}
{"op":"get_message_status","events":[{"uetr":"00000000-0000-4000-8000-000000000000"}]}
{"op":"get_statement","events":[{"bic":"HSBKKZKX","currency":"KZT","date":20230519,"message":"camt.053"}]}
{"op":"submit_message","events":[{"xml":"not xml"}]}
{"op":"lookup_payments","ids":["1"]}
JSON
python3 - "$work/lines" <<'PY' || fail "client's lines"
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
assert lines[0]["results"][0]["status"] == "ACSC", lines[0]
assert "<TxSts>ACSC</TxSts>" in lines[0]["results"][0]["reply_xml"]
assert lines[1]["error"]["code"] == "message_not_found", lines[1]
statement = lines[2]["results"][0]["xml"]
assert statement.count("<Ntry>") == 3, statement  # the funding and the two payments
assert lines[3]["results"][0]["status"] == "RJCT" and lines[3]["results"][0]["reason"] == "FF01"
assert lines[4] == {"op": "lookup_payments", "payments": []}, lines[4]
PY
stop

# Mutual TLS: each connection is the participant its certificate names.
ca=$work/ca
sh scripts/dev-ca.sh "$ca" HSBKKZKX KCJBKZKX operator >/dev/null || fail "dev-ca.sh"
setup "$work/tls"
"$KHORGOS" start --data "$work/tls" --addresses 127.0.0.1:0 --clock manual \
    --tls-cert "$ca/server.crt" --tls-key "$ca/server.key" --tls-ca "$ca/ca.crt" \
    2>"$work/tls.log" &
server=$!
wait_for "$work/tls.log" "event=serving"
port=$(listening_port "$work/tls.log")
as() { # NAME: the TLS options of NAME's certificate
    echo --addresses "127.0.0.1:$port" --timeout 10 --tls-cert "$ca/$1.crt" --tls-key \
        "$ca/$1.key" --tls-ca "$ca/ca.crt"
}
mkdir "$work/forged" "$work/own" "$work/operator"
cp "$CORPUS/pacs008_v08.xml" "$CORPUS/pacs008_v08_apphdr.xml" "$work/forged/"
cp "$CORPUS/pacs008_v08.xml" "$work/own/"
sed 's|<MsgId>HSBK20230519-0001</MsgId>|<MsgId>HSBK20230519-0002</MsgId>|' \
    "$CORPUS/pacs008_v08_no_uetr.xml" >"$work/operator/pacs008_v08_no_uetr.xml"
status=0
# shellcheck disable=SC2046
"$KHORGOS" message $(as KCJBKZKX) "$work/forged/pacs008_v08.xml" \
    "$work/forged/pacs008_v08_apphdr.xml" >"$work/forged.out" || status=$?
[ "$status" -eq 5 ] || fail "a forged sender: exit $status, expected 5"
for name in pacs008_v08 pacs008_v08_apphdr; do
    grep -q "$name.xml: RJCT AGNT" "$work/forged.out" || fail "$(cat "$work/forged.out")"
    grep -q "<Cd>AGNT</Cd>" "$work/forged/$name.reply.xml" || fail "$name: no AGNT in the reply"
done
# shellcheck disable=SC2046
"$KHORGOS" client $(as KCJBKZKX) >"$work/forged.lines" <<'JSON' || fail "client: exit $?"
{"op":"get_message_status","events":[{"uetr":"e7985fdc-04da-494d-9f89-cc9502ea84bb"}]}
{"op":"get_statement","events":[{"bic":"HSBKKZKX","currency":"KZT","date":20230519,"message":"camt.053"}]}
{"op":"get_statement","events":[{"bic":"KCJBKZKX","currency":"KZT","date":20230519,"message":"camt.053"}]}
JSON
python3 - "$work/forged.lines" <<'PY' || fail "the forger's lines"
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
assert lines[0]["error"]["code"] == "message_not_found", lines[0]  # nothing was submitted
assert lines[1]["error"]["code"] == "forbidden", lines[1]
assert "<Ntry>" not in lines[2]["results"][0]["xml"], lines[2]
PY
# shellcheck disable=SC2046
"$KHORGOS" message $(as HSBKKZKX) "$work/own/pacs008_v08.xml" >"$work/own.out" ||
    fail "the bank's own message: exit $?: $(cat "$work/own.out")"
grep -q "pacs008_v08.xml: ACSC" "$work/own.out" || fail "$(cat "$work/own.out")"
# shellcheck disable=SC2046
"$KHORGOS" message $(as operator) "$work/operator/pacs008_v08_no_uetr.xml" >"$work/op.out" ||
    fail "the operator's message: exit $?: $(cat "$work/op.out")"
grep -q "ACSC" "$work/op.out" || fail "$(cat "$work/op.out")"
# A later status goes to the submitter's sessions only: Kaspi's payment, queued for want of
# funds, settles when the operator funds Kaspi; Kaspi's session is told, Halyk's is not.
PYTHONPATH=clients/python python3 - "$ca" "$CORPUS/pacs008_v08.xml" "$port" <<'PY' || fail "pushed"
import sys, time
import khorgos
ca, path, port = sys.argv[1], sys.argv[2], sys.argv[3]
def session(name, received):
    return khorgos.Client(addresses=[f"127.0.0.1:{port}"], timeout=10, tls_cert=f"{ca}/{name}.crt",
                          tls_key=f"{ca}/{name}.key", tls_ca=f"{ca}/ca.crt",
                          on_notification=lambda *n: received.append(n))
kaspi_got, halyk_got = [], []
kaspi, halyk, operator = session("KCJBKZKX", kaspi_got), session("HSBKKZKX", halyk_got), \
    session("operator", [])
halyk.lookup_accounts([1])  # a session, connected
xml = open(path).read().replace("HSBKKZKX", "SWAP").replace("KCJBKZKX", "HSBKKZKX")
xml = xml.replace("SWAP", "KCJBKZKX").replace("e7985fdc-04da", "b7985fdc-04da")
xml = xml.replace("1250.50", "9999.00")  # more than Kaspi holds
result = kaspi.submit_message(xml)
assert result["status"] == "ACSP", result
fund = khorgos.ParticipantEvent(id=90, bic="KCJBKZKX", currency=398, amount=10**7)
assert operator.fund([fund])[0].status == 0
deadline = time.monotonic() + 5
while not kaspi_got and time.monotonic() < deadline:
    kaspi.poll_notifications(0.2)
halyk.poll_notifications(0.5)
assert [kind for kind, _, _ in kaspi_got] == [1], kaspi_got
assert b"<TxSts>ACSC</TxSts>" in kaspi_got[0][2]
assert halyk_got == [], halyk_got
for client in (kaspi, halyk, operator):
    client.close()
PY
stop
echo "ok"
