#!/bin/sh
# One-shot init of the docker-compose broker (service kafka-init of docker-compose.yml), the compose twin of what
# `npx tidemark infra up` does natively (deploy/local/src/kafka-security.ts):
#  1. on the first run, a CA and the broker's certificate (SAN kafka, localhost; CN=tidemark-broker, a super-user on
#     the controller listener) with the JRE's keytool, in the kafka-secrets volume; the CA certificate alone is copied
#     to the kafka-ca volume, which every client mounts read-only;
#  2. server.properties and admin-client.properties from the generated templates (deploy/container/kafka), with the
#     admin's password (from .env) and the keystore's (generated here) filled in;
#  3. on the first run, the storage formatted with every platform principal's SCRAM-SHA-512 credential
#     (`kafka-storage format --add-scram`, KIP-900): TIDEMARK_KAFKA_PRINCIPALS, passwords from .env
#     (TIDEMARK_KAFKA_PASSWORD_<PRINCIPAL>). A principal added later needs `docker compose down -v` (new storage) or
#     `kafka-configs --alter --add-config 'SCRAM-SHA-512=[password=...]' --entity-type users --entity-name <principal>`.
# No secret is printed.
set -eu
# The compose volumes (overridable only so that test/integration/compose-kafka.int.test.ts can run this script as is).
TEMPLATES=${TIDEMARK_KAFKA_TEMPLATES_DIR:-/opt/tidemark/kafka}
SECRETS=${TIDEMARK_KAFKA_SECRETS_DIR:-/var/lib/tidemark/kafka-secrets}
CA_OUT=${TIDEMARK_KAFKA_CA_DIR:-/etc/tidemark/kafka-ca}
DATA=${TIDEMARK_KAFKA_DATA_DIR:-/var/lib/kafka/data}
KAFKA_STORAGE=${TIDEMARK_KAFKA_STORAGE:-/opt/kafka/bin/kafka-storage.sh}
# The apache/kafka image runs the broker as appuser (uid 1000); empty: leave the owner alone.
BROKER_UID=${TIDEMARK_KAFKA_UID-1000}
umask 077
mkdir -p "$SECRETS" "$CA_OUT" "$DATA"

if [ ! -f "$SECRETS/broker.p12" ] || [ ! -f "$SECRETS/ca.crt" ]; then
  echo "kafka-init: creating a CA and the broker certificate (keytool)"
  rm -f "$SECRETS/broker.p12" "$SECRETS/ca.p12" "$SECRETS/ca.crt"
  head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$SECRETS/keystore-password"
  TIDEMARK_STOREPASS=$(cat "$SECRETS/keystore-password")
  export TIDEMARK_STOREPASS
  CA="-keystore $SECRETS/ca.p12 -storetype PKCS12 -storepass:env TIDEMARK_STOREPASS"
  BROKER="-keystore $SECRETS/broker.p12 -storetype PKCS12 -storepass:env TIDEMARK_STOREPASS"
  # shellcheck disable=SC2086 # CA and BROKER are option lists
  keytool -genkeypair -alias ca -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=Tidemark compose CA" -ext bc:c $CA
  # shellcheck disable=SC2086
  keytool -exportcert -rfc -alias ca $CA > "$SECRETS/ca.crt.tmp"
  # shellcheck disable=SC2086
  keytool -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=tidemark-broker" $BROKER
  # shellcheck disable=SC2086
  keytool -certreq -alias broker $BROKER > "$SECRETS/broker.csr"
  # shellcheck disable=SC2086
  keytool -gencert -alias ca -rfc -validity 3650 -ext SAN=dns:kafka,dns:localhost -ext EKU=serverAuth,clientAuth $CA \
    < "$SECRETS/broker.csr" > "$SECRETS/broker.crt"
  # shellcheck disable=SC2086
  keytool -importcert -noprompt -alias ca -file "$SECRETS/ca.crt.tmp" $BROKER
  # shellcheck disable=SC2086
  keytool -importcert -noprompt -alias broker -file "$SECRETS/broker.crt" $BROKER
  rm -f "$SECRETS/broker.csr" "$SECRETS/broker.crt"
  mv "$SECRETS/ca.crt.tmp" "$SECRETS/ca.crt"
fi
cp "$SECRETS/ca.crt" "$CA_OUT/ca.crt"
chmod 0755 "$CA_OUT"
chmod 0644 "$CA_OUT/ca.crt"

: "${TIDEMARK_KAFKA_PASSWORD_ADMIN:?set TIDEMARK_KAFKA_PASSWORD_ADMIN in .env (docs/security.md, docker compose)}"
KEYSTORE_PASSWORD=$(cat "$SECRETS/keystore-password")
for f in server.properties admin-client.properties; do
  sed -e "s|@TIDEMARK_KAFKA_ADMIN_PASSWORD@|$TIDEMARK_KAFKA_PASSWORD_ADMIN|g" \
    -e "s|@TIDEMARK_KAFKA_KEYSTORE_PASSWORD@|$KEYSTORE_PASSWORD|g" "$TEMPLATES/$f" > "$SECRETS/$f"
done

if [ ! -f "$DATA/meta.properties" ]; then
  set --
  for principal in $TIDEMARK_KAFKA_PRINCIPALS; do
    var="TIDEMARK_KAFKA_PASSWORD_$(echo "${principal#tidemark-}" | tr 'a-z-' 'A-Z_')"
    password=$(printenv "$var") || { echo "kafka-init: set $var in .env (docs/security.md, docker compose)" >&2; exit 1; }
    set -- "$@" --add-scram "SCRAM-SHA-512=[name=$principal,password=$password]"
  done
  echo "kafka-init: formatting the storage with SCRAM credentials for: $TIDEMARK_KAFKA_PRINCIPALS"
  "$KAFKA_STORAGE" format --standalone -t "$("$KAFKA_STORAGE" random-uuid)" -c "$SECRETS/server.properties" "$@"
fi
if [ -n "$BROKER_UID" ]; then chown -R "$BROKER_UID:$BROKER_UID" "$SECRETS" "$DATA"; fi
