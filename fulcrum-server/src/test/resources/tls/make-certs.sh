#!/bin/sh
# Regenerates the TLS test fixtures: a test CA, a server certificate for localhost/127.0.0.1 and a
# client certificate, all signed by the CA, with PKCS#8 PEM keys (what Netty's JDK provider reads).
# Test fixtures, not secrets: nothing outside the tests trusts this CA. Valid for 100 years.
set -eu
cd "$(dirname "$0")"
days=36500
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days $days -subj "/CN=Fulcrum Test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem
for who in server client; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $who.key
  openssl req -new -key $who.key -subj "/CN=fulcrum-test-$who" -out $who.csr
done
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
for who in server client; do
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days $days \
    -extfile $who.ext -out $who.pem
done
rm -f ./*.csr ./*.ext ca.srl ca.key
