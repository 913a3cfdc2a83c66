#!/bin/sh
# Regenerates coordinator/testdata/records848/golden.txt: the KIP-848 consumer-group records
# of __consumer_offsets as Apache Kafka's own serde encodes them (GenGolden.java, compiled
# against the Kafka 4.x jars that `make deps` installs). records848_test.go compares the
# broker's encoders against this file; the file is committed, so tests need no JVM.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/versions.env"
lib="$repo/.cache/kafka-$KAFKA_4_VERSION/lib"
[ -d "$lib" ] || { echo "gen-records848-golden: $lib is missing (run make deps)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src="$repo/coordinator/testdata/records848"
javac -d "$work" -cp "$lib/*" "$src/GenGolden.java"
java -cp "$work:$lib/*" GenGolden "$src/golden.txt"
echo "wrote $src/golden.txt (Kafka $KAFKA_4_VERSION)"
