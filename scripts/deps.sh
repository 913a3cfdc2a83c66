#!/bin/sh
# Installs everything the test suite runs besides Go modules, into <repo>/.cache
# (ignored by git), at the versions pinned in scripts/versions.env:
#   Apache Kafka command-line tools (3.9 and 4.x) and Kafka Connect (3.9) from Maven Central,
#   confluent-kafka and kafka-python in a virtualenv, kafkajs from npm, kcat
#   from the Debian packages, docker-compose (for validating docker-compose.yml).
# Every step is idempotent and returns at once when its result is in place.
# Called by `make deps`.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/versions.env"
mkdir -p "$repo/.cache"

"$repo/scripts/install-kafka-tools.sh" "$KAFKA_3_VERSION"
"$repo/scripts/install-kafka-tools.sh" "$KAFKA_4_VERSION"
"$repo/scripts/install-kafka-streams.sh" "$KAFKA_3_VERSION"
"$repo/scripts/install-kafka-connect.sh" "$KAFKA_3_VERSION"
"$repo/scripts/install-python.sh"
"$repo/scripts/install-node.sh"
"$repo/scripts/install-kcat.sh"
"$repo/scripts/install-compose.sh"
