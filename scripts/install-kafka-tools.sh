#!/bin/sh
# Installs Apache Kafka's command-line tools of one release from Maven Central
# (the only artifact host the tests may use): org.apache.kafka:kafka_2.13,
# kafka-tools and kafka-clients with every runtime dependency, resolved by
# Maven from a throwaway pom, plus an SLF4J binding so the tools log quietly
# (warnings and errors on stderr only).
#
#   scripts/install-kafka-tools.sh <version> [dest]   (default dest: <repo>/.cache/kafka-<version>)
#
# Result:
#   dest/lib/*.jar        the resolved jars
#   dest/bin/<tool>       thin wrappers, `exec java -cp 'dest/lib/*' <MainClass> "$@"`, for
#                         kafka-console-producer kafka-console-consumer kafka-topics
#                         kafka-consumer-groups kafka-configs kafka-producer-perf-test
#                         kafka-consumer-perf-test kafka-dump-log kafka-delete-records
#                         kafka-log-dirs kafka-reassign-partitions kafka-leader-election
#                         kafka-transactions kafka-acls
#   dest/.complete        written once the jars are resolved; with it a rerun resolves
#                         nothing and only writes the wrappers that are missing (so a tool
#                         added to this list reaches an existing install)
#
# The main class of each tool moved between releases (Scala classes in core
# under kafka.admin/kafka.tools, then Java classes under org.apache.kafka.tools);
# the wrapper names the first candidate that the resolved jars contain, and the
# install fails if none does. Each wrapper is checked with --help.
set -eu

version="${1:?usage: install-kafka-tools.sh <version> [dest]}"
repo=$(cd "$(dirname "$0")/.." && pwd)
dest="${2:-$repo/.cache/kafka-$version}"
m2="${KBROKER_M2:-$repo/.cache/m2}"
stamp="kafka $version tools v4"

command -v java >/dev/null 2>&1 || { echo "install-kafka-tools: java is required" >&2; exit 1; }
command -v unzip >/dev/null 2>&1 || { echo "install-kafka-tools: unzip is required" >&2; exit 1; }

resolved=no
if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$stamp" ]; then
	resolved=yes
fi

# resolve fetches the jars into dest/lib (from scratch) and writes the log4j settings.
resolve() {
command -v mvn >/dev/null 2>&1 || { echo "install-kafka-tools: mvn (Maven) is required" >&2; exit 1; }

# SLF4J 1.7 for the 3.x line, 2.0 for 4.x (the API version kafka-clients uses).
case "$version" in
3.*) slf4j=1.7.36 ;;
*) slf4j=2.0.17 ;;
esac

rm -rf "$dest"
mkdir -p "$dest/lib" "$dest/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kbroker.deps</groupId>
  <artifactId>kafka-tools-$version</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$slf4j</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>$slf4j</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
POM

echo "kafka tools $version: resolving from Maven Central into $dest/lib"
mvn -q -B -Dstyle.color=never -f "$work/pom.xml" -Dmaven.repo.local="$m2" \
	org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
	-DincludeScope=runtime -DoutputDirectory="$dest/lib"

# Other SLF4J bindings (reload4j, log4j2) would compete with slf4j-simple.
rm -f "$dest"/lib/slf4j-reload4j-*.jar "$dest"/lib/slf4j-log4j12-*.jar "$dest"/lib/log4j-slf4j*-impl-*.jar

# Used only if some jar brings log4j 1 (reload4j) and logs through it directly.
cat >"$dest/log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF

# Used by the 4.x tools that reconfigure log4j2 (kafka-configs) or log through it.
cat >"$dest/log4j2.properties" <<'EOF'
status = error
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = STDERR
EOF

echo "$stamp" >"$dest/.complete"
}

if [ "$resolved" = no ]; then
	resolve
fi

# has_class CLASS: whether some jar in lib holds CLASS.
has_class() {
	path="$(echo "$1" | tr . /).class"
	for jar in "$dest"/lib/*.jar; do
		if unzip -l "$jar" "$path" >/dev/null 2>&1; then
			return 0
		fi
	done
	return 1
}

# wrapper TOOL CANDIDATE...: writes bin/TOOL running the first candidate present, unless
# it is there already; each new wrapper is listed in $written for the --help check.
written=""
wrapper() {
	tool=$1
	shift
	if [ -x "$dest/bin/$tool" ]; then
		return 0
	fi
	for class in "$@"; do
		if has_class "$class"; then
			cat >"$dest/bin/$tool" <<EOF
#!/bin/sh
# $tool from Apache Kafka $version (Maven Central jars), main class $class.
# The install directory is found from this script's place, so a cache reached through a
# symbolic link keeps working wherever it is.
d=\$(cd "\$(dirname "\$0")/.." && pwd)
exec java \${KAFKA_HEAP_OPTS:--Xmx512m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \\
	-Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.logFile=System.err \\
	-Dlog4j.configuration=file:\$d/log4j.properties -Dlog4j2.configurationFile=\$d/log4j2.properties \\
	\${KAFKA_OPTS:-} -cp "\$d/lib/*" $class "\$@"
EOF
			chmod +x "$dest/bin/$tool"
			written="$written $dest/bin/$tool"
			echo "  $tool -> $class"
			return 0
		fi
	done
	echo "install-kafka-tools: no main class for $tool in Kafka $version (tried: $*)" >&2
	exit 1
}

wrapper kafka-console-producer org.apache.kafka.tools.ConsoleProducer kafka.tools.ConsoleProducer
wrapper kafka-console-consumer org.apache.kafka.tools.consumer.ConsoleConsumer kafka.tools.ConsoleConsumer
wrapper kafka-topics org.apache.kafka.tools.TopicCommand kafka.admin.TopicCommand
wrapper kafka-consumer-groups org.apache.kafka.tools.consumer.group.ConsumerGroupCommand kafka.admin.ConsumerGroupCommand
wrapper kafka-configs org.apache.kafka.tools.ConfigCommand kafka.admin.ConfigCommand
wrapper kafka-producer-perf-test org.apache.kafka.tools.ProducerPerformance
wrapper kafka-consumer-perf-test org.apache.kafka.tools.ConsumerPerformance kafka.tools.ConsumerPerformance
wrapper kafka-dump-log org.apache.kafka.tools.DumpLogSegments kafka.tools.DumpLogSegments
wrapper kafka-delete-records org.apache.kafka.tools.DeleteRecordsCommand kafka.admin.DeleteRecordsCommand
wrapper kafka-log-dirs org.apache.kafka.tools.LogDirsCommand kafka.admin.LogDirsCommand
wrapper kafka-reassign-partitions org.apache.kafka.tools.reassign.ReassignPartitionsCommand kafka.admin.ReassignPartitionsCommand
wrapper kafka-leader-election org.apache.kafka.tools.LeaderElectionCommand kafka.admin.LeaderElectionCommand
wrapper kafka-transactions org.apache.kafka.tools.TransactionsCommand
wrapper kafka-acls org.apache.kafka.tools.AclCommand kafka.admin.AclCommand

# Every new wrapper must at least print its usage. Tools exit non-zero on --help
# in some releases, so check the output, not the status. A wrapper that fails is removed,
# so that the next run writes it again.
for tool in $written; do
	out=$("$tool" --help 2>&1 || true)
	case "$out" in
	*--bootstrap-server* | *--files* | *--topic* | *--help*) ;;
	*)
		echo "install-kafka-tools: $(basename "$tool") --help printed no usage:" >&2
		echo "$out" | head -20 >&2
		rm -f "$tool"
		exit 1
		;;
	esac
done

echo "kafka tools $version installed in $dest"
