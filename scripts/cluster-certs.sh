#!/usr/bin/env bash
# Makes a certificate authority and certificates for the nodes of a strata cluster, with the
# openssl command line (docs/CLUSTER.md, "TLS"):
#   scripts/cluster-certs.sh <dir> <ca name> <node>...
# writes <dir>/<ca name>.pem (the CA certificate, for cluster.tls.ca), <dir>/<ca name>.key,
# and for each node <dir>/<node>.pem and <dir>/<node>.key (cluster.tls.certificate and
# cluster.tls.key). A CA that exists in <dir> already signs the new nodes. The keys are
# unencrypted EC P-256 keys readable by the owner only; the certificates are valid for 30 days
# (STRATA_CERT_DAYS) and usable for both ends of a TLS connection, as a node is both.
# Meant for tests and trials: in production use your own CA and keep its key offline.
set -euo pipefail

if (($# < 2)); then
  echo "usage: $0 <dir> <ca name> <node>..." >&2
  exit 2
fi
dir=$1
ca=$2
shift 2
days=${STRATA_CERT_DAYS:-30}
mkdir -p "$dir"
umask 077

if [[ ! -f "$dir/$ca.pem" ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$ca.key" -out "$dir/$ca.pem" -days "$days" -subj "/CN=$ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

for node in "$@"; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$node.key" -out "$dir/$node.csr" -subj "/CN=$node" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=DNS:$node,IP:127.0.0.1" \
    >"$dir/$node.ext"
  openssl x509 -req -in "$dir/$node.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days "$days" -extfile "$dir/$node.ext" \
    -out "$dir/$node.pem" 2>/dev/null
  rm -f "$dir/$node.csr" "$dir/$node.ext"
done
