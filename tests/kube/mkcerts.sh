#!/bin/sh
# Make a test CA, a server certificate for 127.0.0.1 and localhost, and a
# client certificate, in DIR. Keys are EC P-256, so this takes no time.
#   mkcerts.sh DIR
set -eu
d=$1
mkdir -p "$d"
cd "$d"
key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -days 2 -subj /CN=portgate-test-ca -out ca.crt 2>/dev/null

key server.key
openssl req -new -key server.key -subj /CN=kube-apiserver -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
	-extfile server.ext -out server.crt 2>/dev/null

key client.key
openssl req -new -key client.key -subj /CN=portgate/O=system:nodes -out client.csr 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >client.ext
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
	-extfile client.ext -out client.crt 2>/dev/null

# A second CA that signed nothing here: a client trusting it must refuse the server.
key other-ca.key
openssl req -x509 -new -key other-ca.key -days 2 -subj /CN=other-ca -out other-ca.crt 2>/dev/null
rm -f ./*.csr ./*.ext ./*.srl
