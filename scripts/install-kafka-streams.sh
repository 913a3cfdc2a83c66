#!/bin/sh
# Installs Apache Kafka Streams of one release from Maven Central, for the exactly-once
# integration tests: org.apache.kafka:kafka-streams with every runtime dependency (RocksDB's
# JNI jar included) and slf4j-simple, and compiles the tests' WordCount application
# (integration/testdata/streams/WordCount.java: Kafka's WordCountDemo with its topics and
# settings read from a properties file; the examples jar is not on Maven Central).
#
#   scripts/install-kafka-streams.sh <version> [dest]   (default dest: <repo>/.cache/kafka-streams-<version>)
#
# Result:
#   dest/lib/*.jar        the resolved jars
#   dest/classes/         WordCount.class
#   dest/bin/wordcount    `exec java -cp 'dest/classes:dest/lib/*' WordCount <properties file>`
#   dest/.complete        written last; its presence (for the same WordCount.java) makes a
#                         rerun a no-op
set -eu

version="${1:?usage: install-kafka-streams.sh <version> [dest]}"
repo=$(cd "$(dirname "$0")/.." && pwd)
dest="${2:-$repo/.cache/kafka-streams-$version}"
m2="${KBROKER_M2:-$repo/.cache/m2}"
src="$repo/integration/testdata/streams/WordCount.java"
stamp="kafka streams $version v1 $(cksum <"$src")"

if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$stamp" ]; then
	echo "kafka streams $version already installed in $dest"
	exit 0
fi
command -v mvn >/dev/null 2>&1 || { echo "install-kafka-streams: mvn (Maven) is required" >&2; exit 1; }
command -v java >/dev/null 2>&1 || { echo "install-kafka-streams: java is required" >&2; exit 1; }
command -v javac >/dev/null 2>&1 || { echo "install-kafka-streams: javac (a JDK) is required" >&2; exit 1; }

case "$version" in
3.*) slf4j=1.7.36 ;;
*) slf4j=2.0.17 ;;
esac

rm -rf "$dest"
mkdir -p "$dest/lib" "$dest/bin" "$dest/classes"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kbroker.deps</groupId>
  <artifactId>kafka-streams-$version</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-streams</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$slf4j</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>$slf4j</version></dependency>
  </dependencies>
</project>
POM
echo "kafka streams $version: resolving from Maven Central into $dest/lib"
mvn -q -B -Dstyle.color=never -f "$work/pom.xml" -Dmaven.repo.local="$m2" \
	org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
	-DincludeScope=runtime -DoutputDirectory="$dest/lib"
rm -f "$dest"/lib/slf4j-reload4j-*.jar "$dest"/lib/slf4j-log4j12-*.jar "$dest"/lib/log4j-slf4j*-impl-*.jar

javac -nowarn -d "$dest/classes" -cp "$dest/lib/*" "$src"
cat >"$dest/bin/wordcount" <<EOF
#!/bin/sh
# The integration tests' Kafka Streams $version WordCount; \$1 is its properties file.
d=\$(cd "\$(dirname "\$0")/.." && pwd)
exec java \${KAFKA_HEAP_OPTS:--Xmx384m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \\
	-Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.logFile=System.err \\
	\${KAFKA_OPTS:-} -cp "\$d/classes:\$d/lib/*" WordCount "\$@"
EOF
chmod +x "$dest/bin/wordcount"
echo "$stamp" >"$dest/.complete"
echo "kafka streams $version installed in $dest"
