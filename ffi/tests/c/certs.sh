#!/usr/bin/env bash
# Makes throwaway TLS files for the C tests with openssl (never committed), all PEM in DIR:
# ca.crt, a server certificate for 127.0.0.1 only (so localhost fails a host name check)
# as Apache's PEM key store (server-keystore.pem: key and certificate), a client
# certificate (client.crt, client.key) and an untrusted authority (other-ca.crt).
#   certs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
ssl() { openssl "$@" >/dev/null 2>&1 || { echo "openssl $* failed" >&2; openssl "$@"; exit 1; }; }
authority() { # NAME SUBJECT
    ssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$1.key" -out "$1.crt" -subj "/CN=$2"
}
signed() { # NAME SUBJECT CA [ALT_NAMES]
    ssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/O=zk tests/CN=$2"
    printf 'basicConstraints=CA:FALSE\n' >"$1.ext"
    [ -z "${4:-}" ] || printf 'subjectAltName=%s\n' "$4" >>"$1.ext"
    ssl x509 -req -days 2 -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial \
        -out "$1.crt" -extfile "$1.ext"
}
authority ca "zk test CA"
authority other-ca "zk untrusted test CA"
signed server zk-server ca IP:127.0.0.1
signed client client ca
cat server.key server.crt >server-keystore.pem
