#!/bin/sh
# Installs Apache Kafka Connect of one release from Maven Central: the worker
# (org.apache.kafka:connect-runtime) and the file connectors (connect-file) with every
# runtime dependency, resolved by Maven from a throwaway pom, for the test that runs
# Connect in distributed mode against the broker.
#
#   scripts/install-kafka-connect.sh <version> [dest]   (default dest: <repo>/.cache/kafka-connect-<version>)
#
# Result:
#   dest/lib/*.jar               the resolved jars
#   dest/bin/connect-distributed `exec java -cp 'dest/lib/*' org.apache.kafka.connect.cli.ConnectDistributed "$@"`,
#                                finding dest from its own place
#   dest/.complete               written last; its presence makes a rerun a no-op
set -eu

version="${1:?usage: install-kafka-connect.sh <version> [dest]}"
repo=$(cd "$(dirname "$0")/.." && pwd)
dest="${2:-$repo/.cache/kafka-connect-$version}"
m2="${KBROKER_M2:-$repo/.cache/m2}"
stamp="kafka connect $version v1"

if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$stamp" ]; then
	echo "kafka connect $version already installed in $dest"
	exit 0
fi
command -v mvn >/dev/null 2>&1 || { echo "install-kafka-connect: mvn (Maven) is required" >&2; exit 1; }
command -v java >/dev/null 2>&1 || { echo "install-kafka-connect: java is required" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest/lib" "$dest/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kbroker.deps</groupId>
  <artifactId>kafka-connect-$version</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-file</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-json</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM

echo "kafka connect $version: resolving from Maven Central into $dest/lib"
mvn -q -B -Dstyle.color=never -f "$work/pom.xml" -Dmaven.repo.local="$m2" \
	org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
	-DincludeScope=runtime -DoutputDirectory="$dest/lib"

# The worker logs through log4j 1 (reload4j): warnings and errors on stderr.
cat >"$dest/log4j.properties" <<'PROPS'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS

cat >"$dest/bin/connect-distributed" <<'SH'
#!/bin/sh
# Kafka Connect worker in distributed mode (Maven Central jars); the install directory is
# found from this script's place.
d=$(cd "$(dirname "$0")/.." && pwd)
exec java ${KAFKA_HEAP_OPTS:--Xmx512m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
	-Dlog4j.configuration=file:$d/log4j.properties ${KAFKA_OPTS:-} \
	-cp "$d/lib/*" org.apache.kafka.connect.cli.ConnectDistributed "$@"
SH
chmod +x "$dest/bin/connect-distributed"

ls "$dest"/lib/connect-runtime-*.jar "$dest"/lib/connect-file-*.jar >/dev/null
echo "$stamp" >"$dest/.complete"
echo "kafka connect $version installed in $dest"
