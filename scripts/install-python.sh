#!/bin/sh
# Creates a virtualenv with the pinned Python Kafka clients from PyPI:
# confluent-kafka (binary wheel with librdkafka inside) and kafka-python.
#
#   scripts/install-python.sh [dest]     (default: <repo>/.cache/venv)
#
# Versions come from scripts/versions.env. Idempotent: when dest/.complete
# names the same versions nothing is done.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/versions.env"
dest="${1:-$repo/.cache/venv}"
stamp="confluent-kafka==$CONFLUENT_KAFKA_VERSION kafka-python==$KAFKA_PYTHON_VERSION"

if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$stamp" ] && [ -x "$dest/bin/python" ]; then
	echo "python clients already installed in $dest ($stamp)"
	exit 0
fi
py=$(command -v python3 || true)
[ -n "$py" ] || { echo "install-python: python3 is required" >&2; exit 1; }

rm -rf "$dest"
"$py" -m venv "$dest"
"$dest/bin/python" -m pip install -q --disable-pip-version-check \
	"confluent-kafka==$CONFLUENT_KAFKA_VERSION" "kafka-python==$KAFKA_PYTHON_VERSION"
"$dest/bin/python" -c 'import confluent_kafka, kafka; print("confluent-kafka", confluent_kafka.version(), "librdkafka", confluent_kafka.libversion()[0], "kafka-python", kafka.__version__)'
echo "$stamp" >"$dest/.complete"
