#!/bin/sh
# dev-ca.sh: a development certificate authority for `khorgos start`'s mutual TLS, for tests
# and demos only (its keys are unencrypted files). With openssl:
#
#   scripts/dev-ca.sh OUTDIR NAME...        OUTDIR/ca.crt and ca.key (made once, then reused),
#                                           server.crt/server.key for localhost and 127.0.0.1,
#                                           and NAME.crt/NAME.key (subject CN=NAME) per NAME
#   scripts/dev-ca.sh --revoke OUTDIR NAME  revokes OUTDIR/NAME.crt and writes OUTDIR/crl.pem
#   scripts/dev-ca.sh --crl OUTDIR          writes OUTDIR/crl.pem listing what was revoked
#
# A NAME is the identity the server gives the connection (docs/security.md): a BIC such as
# BANKDEFF, or operator, auditor or replica (replica's certificate is good for both ends of a
# TLS connection, serverAuth and clientAuth, for the links between replicas). Keys are ECDSA P-256; certificates last 825 days,
# the CA 10 years, a CRL 30 days (renew it with --crl before then, and send the server SIGHUP).
set -eu

usage() {
    echo "usage: dev-ca.sh OUTDIR NAME... | --revoke OUTDIR NAME | --crl OUTDIR" >&2
    exit 2
}

# The configuration `openssl ca` needs for revocation and CRLs, and the extensions we issue.
config() {
    cat >"$out/ca.cnf" <<EOF
[ca]
default_ca = dev
[dev]
database = $out/index.txt
crlnumber = $out/crlnumber
certificate = $out/ca.crt
private_key = $out/ca.key
default_md = sha256
default_crl_days = 30
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[replica_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
EOF
    [ -f "$out/index.txt" ] || : >"$out/index.txt"
    [ -f "$out/crlnumber" ] || echo 01 >"$out/crlnumber"
}

ca() {
    [ -f "$out/ca.key" ] && [ -f "$out/ca.crt" ] && return 0
    openssl req -x509 -new -config "$out/ca.cnf" -extensions ca_ext -newkey ec \
        -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$out/ca.key" -out "$out/ca.crt" \
        -days 3650 -subj "/CN=Khorgos development CA" 2>/dev/null
}

# issue NAME EXTENSIONS: NAME.key and NAME.crt signed by the CA.
issue() {
    openssl req -new -config "$out/ca.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -nodes -keyout "$out/$1.key" -out "$out/$1.csr" -subj "/CN=$1" 2>/dev/null
    openssl x509 -req -in "$out/$1.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
        -CAcreateserial -days 825 -extfile "$out/ca.cnf" -extensions "$2" \
        -out "$out/$1.crt" 2>/dev/null
    rm -f "$out/$1.csr"
    chmod 600 "$out/$1.key"
}

crl() {
    openssl ca -config "$out/ca.cnf" -gencrl -out "$out/crl.pem" 2>/dev/null
}

[ $# -ge 1 ] || usage
case "$1" in
--revoke)
    [ $# -eq 3 ] || usage
    out=$(cd "$2" && pwd)
    [ -f "$out/$3.crt" ] || { echo "dev-ca.sh: $out/$3.crt: no such certificate" >&2; exit 1; }
    config
    openssl ca -config "$out/ca.cnf" -revoke "$out/$3.crt" 2>/dev/null
    crl
    echo "revoked $3; wrote $out/crl.pem"
    ;;
--crl)
    [ $# -eq 2 ] || usage
    out=$(cd "$2" && pwd)
    config
    crl
    echo "wrote $out/crl.pem"
    ;;
-*)
    usage
    ;;
*)
    [ $# -ge 2 ] || usage
    mkdir -p "$1"
    chmod 700 "$1"
    out=$(cd "$1" && pwd)
    shift
    config
    ca
    [ -f "$out/server.crt" ] || issue server server_ext
    for name in "$@"; do
        case "$name" in
        */* | "" | ca | server | crl) echo "dev-ca.sh: $name: not a usable name" >&2; exit 2 ;;
        esac
        # A replica's certificate serves both ends of a TLS link between replicas.
        if [ "$name" = replica ]; then issue "$name" replica_ext; else issue "$name" client_ext; fi
    done
    echo "wrote $out/ca.crt, server.crt and $# client certificates"
    ;;
esac
