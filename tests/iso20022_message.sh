#!/bin/bash
# iso20022_message.sh: `khorgos message --data DIR` over files of the corpus (tests/iso20022/):
# each reply is written beside its file, is a pacs.002 (camt.029 for a camt.056) whose group
# status and reason are the expected ones, the exit status is 5 when any message was refused
# and 0 when all were accepted, a resubmission in a new process gets its first reply byte for
# byte and changes nothing, and a refused message changes nothing either; and apply's gateway
# lines that cannot be read get their named errors.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
CORPUS=${CORPUS:-tests/iso20022}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

"$KHORGOS" format --data "$work/data" --accounts 1000 --transfers 10000 --balances 1000 \
    --participants 16 --payments 1000 >/dev/null
"$KHORGOS" apply --data "$work/data" --clock manual >/dev/null <<'JSON'
{"op":"create_participants","events":[{"bic":"NBRKKZKX","country":"KZ","role":"settlement_agent","name":"NBK","currencies":["KZT"]},{"bic":"HSBKKZKX","country":"KZ","role":"bank","name":"Halyk","currencies":["KZT"]},{"bic":"KCJBKZKX","country":"KZ","role":"bank","name":"Kaspi","currencies":["KZT"]}]}
{"op":"open_day","events":[{"id":"1","currency":"KZT","date":20230519,"queue_mode":"fifo"}]}
{"op":"fund","events":[{"id":"2","bic":"HSBKKZKX","currency":"KZT","amount":"1000000.00"}]}
{"op":"create_participants","events":[{"bic":"PBOCCNBJ","country":"CN","role":"settlement_agent","name":"PBOC","currencies":["CNY"]},{"bic":"BKCHCNBJ","country":"CN","role":"bank","name":"Bank of China","currencies":["CNY"]},{"bic":"LPAAKZKA","country":"KZ","role":"liquidity_provider","name":"FX A","currencies":["KZT","CNY"]}]}
{"op":"open_day","events":[{"id":"3","currency":"CNY","date":20230519,"queue_mode":"fifo"}]}
{"op":"fund","events":[{"id":"4","bic":"LPAAKZKA","currency":"CNY","amount":"100000.00"}]}
{"op":"set_fx_quotes","events":[{"id":"5","provider":"LPAAKZKA","currency_source":"KZT","currency_target":"CNY","rate":"0.0152","amount_max":"1000000.00","expires_at":"1684458000000000000"}]}
JSON

# file, then the group status and reason its reply must carry (end_to_end_cr has the UETR of
# pacs008_v08 with another EndToEndId: the payment id exists with other fields, DUPL). Each
# copy but those two gets a MsgId and UETR of its own (the corpus's pacs.008s share them), except
# NAME+same_msgid, which keeps pacs008_v08's MsgId with another body: DUPL, by sender and MsgId.
# pacs008_v08_pvp asks for a conversion into CNY by the PvP convention (KHORGOS/PVP/CNY): it
# settles through the liquidity provider LPAAKZKA.
expected="pacs008_v08 ACSC -
pacs008_v08_no_uetr ACSC -
pacs008_v08_no_uetr+same_msgid RJCT DUPL
pacs008_v08_pvp ACSC -
pvp_same_currency RJCT FF01
pacs008_v08_two_transactions ACSC -
pacs008_v08_apphdr ACSC -
namespace_unknown RJCT FF01
other_pacs002 RJCT FF01
hostile_billion_laughs RJCT FF01
participant_unknown RJCT RC01
decimals_kzt_three RJCT AM12
iban_check_digits RJCT AC01
pacs008_v08_end_to_end_cr RJCT DUPL"
files=()
while read -r name status reason; do
    case "$name" in
    pacs008_v08 | pacs008_v08_end_to_end_cr | *+same_msgid)
        cp "$CORPUS/${name%+*}.xml" "$work/$name.xml" ;;
    *) uetr="e7985fdc-04da-494d-9f89-$(printf %s "$name" | md5sum | cut -c1-12)"
       sed -e "s|<MsgId>HSBK20230519-0001</MsgId>|<MsgId>HSBK-$name</MsgId>|" \
           -e "s|e7985fdc-04da-494d-9f89-cc9502ea84bb|$uetr|" \
           "$CORPUS/$name.xml" >"$work/$name.xml" ;;
    esac
    files+=("$work/$name.xml")
done <<<"$expected"

status=0
"$KHORGOS" message --data "$work/data" --clock manual "${files[@]}" >"$work/out" || status=$?
[ "$status" -eq 5 ] || { echo "exit $status, expected 5 (some refused)"; exit 1; }

python3 - "$work" "$expected" <<'PY'
import sys, xml.etree.ElementTree as ET
work, expected = sys.argv[1], sys.argv[2]
ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"}
for line in expected.splitlines():
    name, status, reason = line.split()
    root = ET.parse(f"{work}/{name}.reply.xml").getroot()
    assert root.tag == "{%s}Document" % ns["p"], (name, root.tag)
    group = root.find("p:FIToFIPmtStsRpt/p:OrgnlGrpInfAndSts", ns)
    got = group.find("p:GrpSts", ns).text
    code = group.find("p:StsRsnInf/p:Rsn/p:Cd", ns)
    got_reason = code.text if code is not None else "-"
    assert (got, got_reason) == (status, reason), (name, got, got_reason, status, reason)
    for tx in root.findall("p:FIToFIPmtStsRpt/p:TxInfAndSts", ns):
        assert tx.find("p:TxSts", ns).text == status, name
        assert tx.find("p:OrgnlEndToEndId", ns).text, name
print("replies ok:", len(expected.splitlines()))
PY
grep -q "pacs008_v08.xml: ACSC" "$work/out"

# A resubmission in a new process: the first reply byte for byte, nothing changed.
cp "$work/pacs008_v08.reply.xml" "$work/first.xml"
"$KHORGOS" apply --data "$work/data" --clock manual >"$work/before" <<'JSON'
{"op":"get_positions","filter":{"bic":"HSBKKZKX"}}
JSON
"$KHORGOS" message --data "$work/data" --clock manual "$work/pacs008_v08.xml" >/dev/null
cmp "$work/first.xml" "$work/pacs008_v08.reply.xml"
"$KHORGOS" message --data "$work/data" --clock manual "$work/namespace_unknown.xml" \
    >/dev/null && { echo "a refused message exited 0"; exit 1; }
"$KHORGOS" apply --data "$work/data" --clock manual >"$work/after" <<'JSON'
{"op":"get_positions","filter":{"bic":"HSBKKZKX"}}
JSON
cmp "$work/before" "$work/after"
# The status by sender and MsgId of a message with a UETR: its one payment (the DUPL refused
# above added none), with the original MsgId, InstrId, EndToEndId, TxId and UETR.
"$KHORGOS" apply --data "$work/data" --clock manual >"$work/status" <<'JSON'
{"op":"get_message_status","events":[{"msg_id":"HSBK20230519-0001","sender_bic":"HSBKKZKX"}]}
JSON
python3 - "$work/status" <<'PY'
import json, sys
reply = json.loads(open(sys.argv[1]).read())["results"][0]
assert reply["status"] == "ACSC", reply
xml = reply["reply_xml"]
for text in ["<OrgnlMsgId>HSBK20230519-0001</OrgnlMsgId>",
             "<OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId>",
             "<OrgnlInstrId>HSBK-INSTR-0001</OrgnlInstrId>",
             "<OrgnlEndToEndId>INV-2023-0042</OrgnlEndToEndId>",
             "<OrgnlTxId>HSBK-TX-0001</OrgnlTxId>",
             "<OrgnlUETR>e7985fdc-04da-494d-9f89-cc9502ea84bb</OrgnlUETR>"]:
    assert text in xml, (text, xml)
assert xml.count("<TxInfAndSts>") == 1, xml
PY
# The PvP payment: converted, its creditor paid in CNY (1250.50 KZT x 0.0152 = 19.00 CNY).
"$KHORGOS" apply --data "$work/data" --clock manual >"$work/pvp" <<'JSON'
{"op":"lookup_payments","ids":["79916893454082848514229056830938369631"]}
{"op":"get_positions","filter":{"bic":"BKCHCNBJ","currency":"CNY"}}
JSON
python3 - "$work/pvp" <<'PY'
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
payment = lines[0]["payments"][0]
assert payment["state"] == "settled" and payment["currency_target"] == "CNY", payment
assert payment["amount_target"] == "19.00", payment
assert lines[1]["positions"][0]["balance"] == "19.00", lines[1]
PY

# Usage: neither --data nor --addresses, or both, is a usage error (tests/server_iso20022.sh
# runs --addresses).
status=0; "$KHORGOS" message "$work/pacs008_v08.xml" 2>/dev/null || status=$?
[ "$status" -eq 2 ] || { echo "no --data: exit $status, expected 2"; exit 1; }
status=0; "$KHORGOS" message --data "$work/data" --addresses 4490 "$work/pacs008_v08.xml" \
    2>/dev/null || status=$?
[ "$status" -eq 2 ] || { echo "--data and --addresses: exit $status, expected 2"; exit 1; }
# The apply front end: a gateway line that cannot be read gets its named error and changes
# nothing; a refused message is an answer, not an error.
printf '%s\n' '{"op":"submit_message","events":[{"xml":1}]}' \
    '{"op":"submit_message","events":[{"xml":"x"}],"extra":1}' \
    '{"op":"get_statement","events":[{"bic":"UNKNKZKX","currency":"KZT","date":20230519,"message":"camt.053"}]}' \
    '{"op":"get_statement","events":[{"bic":"HSBKKZKX","currency":"KZT","message":"camt.055"}]}' \
    '{"op":"get_message_status","events":[{"uetr":"e7985fdc-04da-494d-9f89-cc9502ea84bb"}]}' \
    '{"op":"submit_message","events":[{"xml":"not xml"}]}' |
    "$KHORGOS" apply --clock manual 2>/dev/null >"$work/errors"
python3 - "$work/errors" <<'PY'
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
codes = [line.get("error", {}).get("code") for line in lines]
assert codes == ["wrong_type", "unknown_field", "account_not_found", "unknown_name",
                 "message_not_found", None], codes
assert lines[5]["results"][0]["status"] == "RJCT" and lines[5]["results"][0]["reason"] == "FF01"
PY
# A window's net transfer carries the window's number (1), which is also payment 1's id: the
# statement names payment 1 on its own entry only, never on the net.
"$KHORGOS" apply --clock manual 2>/dev/null >"$work/net" <<'JSON'
{"op":"create_participants","events":[{"bic":"NBRKKZKX","country":"KZ","role":"settlement_agent","name":"NBK","currencies":["KZT"]},{"bic":"HSBKKZKX","country":"KZ","role":"bank","name":"Halyk","currencies":["KZT"]},{"bic":"KCJBKZKX","country":"KZ","role":"bank","name":"Kaspi","currencies":["KZT"]}]}
{"op":"open_day","events":[{"id":"1","currency":"KZT","date":20230519,"queue_mode":"fifo"}]}
{"op":"fund","events":[{"id":"2","bic":"HSBKKZKX","currency":"KZT","amount":"1000.00"}]}
{"op":"submit_payments","events":[{"id":"1","debtor":"HSBKKZKX","creditor":"KCJBKZKX","currency":"KZT","amount":"5.00","end_to_end_id":"A-1"}]}
{"op":"open_window","events":[{"id":"30"}]}
{"op":"submit_payments","events":[{"id":"2","debtor":"HSBKKZKX","creditor":"KCJBKZKX","currency":"KZT","amount":"10.00","settlement":"net","end_to_end_id":"N-2"}]}
{"op":"close_window","events":[{"id":"31"}]}
{"op":"settle_window","events":[{"id":"32","number":1}]}
{"op":"get_statement","events":[{"bic":"HSBKKZKX","currency":"KZT","date":20230519,"message":"camt.053"}]}
JSON
python3 - "$work/net" <<'PY'
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
assert lines[7]["results"][0]["payments_settled"] == 1, lines[7]
xml = lines[-1]["results"][0]["xml"]
assert xml.count("<Ntry>") == 3, xml                      # fund, payment 1, the net
assert xml.count("<EndToEndId>A-1</EndToEndId>") == 1, xml
assert "<Amt Ccy=\"KZT\">985.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>" in xml, xml
PY
# get_message_status of a cross-currency payment queued for want of a quote (its pair's only
# quote has expired): PDNG. Its id is its UETR, as the gateway gives a payment with one.
"$KHORGOS" apply --clock manual 2>/dev/null >"$work/fx" <<'JSON'
{"op":"create_participants","events":[{"bic":"NBRKKZKX","country":"KZ","role":"settlement_agent","name":"NBK","currencies":["KZT"]},{"bic":"PBOCCNBJ","country":"CN","role":"settlement_agent","name":"PBOC","currencies":["CNY"]},{"bic":"HSBKKZKX","country":"KZ","role":"bank","name":"Halyk","currencies":["KZT"]},{"bic":"BKCHCNBJ","country":"CN","role":"bank","name":"Bank of China","currencies":["CNY"]},{"bic":"LPAAKZKA","country":"KZ","role":"liquidity_provider","name":"FX A","currencies":["KZT","CNY"]}]}
{"op":"open_day","events":[{"id":"1","currency":"KZT","date":20230519,"queue_mode":"fifo"},{"id":"2","currency":"CNY","date":20230519,"queue_mode":"fifo"}]}
{"op":"fund","events":[{"id":"3","bic":"HSBKKZKX","currency":"KZT","amount":"1000.00"}]}
{"op":"set_fx_quotes","events":[{"id":"1","provider":"LPAAKZKA","currency_source":"KZT","currency_target":"CNY","rate":"0.0152","amount_max":"1000.00","expires_at":"1684454401000000000"}]}
{"op":"advance_clock","seconds":2}
{"op":"submit_payments","events":[{"id":"20095106327972210524872303261840796283","debtor":"HSBKKZKX","creditor":"BKCHCNBJ","currency":"KZT","currency_target":"CNY","amount":"100.00","end_to_end_id":"FX-1","uetr":"20095106327972210524872303261840796283"}]}
{"op":"get_message_status","events":[{"uetr":"0f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b"}]}
JSON
python3 - "$work/fx" <<'PY'
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
assert lines[5]["results"][0]["status"] == "queued", lines[5]
assert lines[6]["results"][0]["status"] == "PDNG", lines[6]
assert "<TxSts>PDNG</TxSts>" in lines[6]["results"][0]["reply_xml"]
PY
echo "ok"
