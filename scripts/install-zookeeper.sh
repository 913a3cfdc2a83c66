#!/bin/sh
# Installs Apache ZooKeeper (the server jar and its runtime dependencies) from
# Maven Central into a cache directory, plus a launcher, for the tests that
# run against a real ZooKeeper. Needs only java and mvn; no other host is
# contacted. Idempotent: a complete install is left as it is.
#
#   scripts/install-zookeeper.sh [dest]      (default: <repo>/.cache/zookeeper)
#
# Result:
#   dest/lib/*.jar         org.apache.zookeeper:zookeeper and its runtime dependencies
#   dest/conf/logback.xml  server logs at WARN on stderr
#   dest/bin/zk-server     zk-server <port> <dataDir> [key=value ...]
#                          writes <dataDir>/zoo.cfg (standalone, loopback, no admin
#                          server, extra keys appended) and execs the server in the
#                          foreground, so its pid is the JVM's.
#
# ZooKeeper 3.8.4 is the version Apache Kafka 3.9 is built and tested with.
set -eu

ZK_VERSION="${ZK_VERSION:-3.8.4}"
repo=$(cd "$(dirname "$0")/.." && pwd)
dest="${1:-$repo/.cache/zookeeper}"
marker="$dest/lib/.complete-$ZK_VERSION"

mkdir -p "$dest/bin" "$dest/conf"

if [ -f "$marker" ] && [ -f "$dest/lib/zookeeper-$ZK_VERSION.jar" ]; then
	echo "zookeeper $ZK_VERSION already installed in $dest"
else
	command -v mvn >/dev/null 2>&1 || { echo "install-zookeeper: mvn (Maven) is required" >&2; exit 1; }
	command -v java >/dev/null 2>&1 || { echo "install-zookeeper: java is required" >&2; exit 1; }
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kbroker.deps</groupId>
  <artifactId>zookeeper-server</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.zookeeper</groupId>
      <artifactId>zookeeper</artifactId>
      <version>$ZK_VERSION</version>
    </dependency>
    <!-- provided scope in ZooKeeper's pom, shipped in its binary distribution: the server needs them -->
    <dependency>
      <groupId>io.dropwizard.metrics</groupId>
      <artifactId>metrics-core</artifactId>
      <version>4.1.12.1</version>
    </dependency>
    <dependency>
      <groupId>org.xerial.snappy</groupId>
      <artifactId>snappy-java</artifactId>
      <version>1.1.10.5</version>
    </dependency>
  </dependencies>
</project>
POM
	rm -rf "$dest/lib.tmp"
	echo "downloading zookeeper $ZK_VERSION from Maven Central"
	mvn -q -B -Dstyle.color=never -f "$work/pom.xml" \
		org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$dest/lib.tmp"
	[ -f "$dest/lib.tmp/zookeeper-$ZK_VERSION.jar" ] || { echo "install-zookeeper: zookeeper-$ZK_VERSION.jar missing after download" >&2; exit 1; }
	touch "$dest/lib.tmp/.complete-$ZK_VERSION"
	rm -rf "$dest/lib"
	mv "$dest/lib.tmp" "$dest/lib"
fi

cat >"$dest/conf/logback.xml" <<'XML'
<configuration>
  <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
    <target>System.err</target>
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDERR"/></root>
</configuration>
XML

cat >"$dest/bin/zk-server.tmp" <<'SH'
#!/bin/sh
# zk-server <port> <dataDir> [key=value ...]: a standalone ZooKeeper on
# 127.0.0.1:<port> with its data in <dataDir>, in the foreground.
set -eu
if [ $# -lt 2 ]; then
	echo "usage: zk-server <port> <dataDir> [key=value ...]" >&2
	exit 2
fi
home=$(cd "$(dirname "$0")/.." && pwd)
port=$1
data=$2
shift 2
mkdir -p "$data"
cfg="$data/zoo.cfg"
{
	echo "tickTime=500"
	echo "initLimit=10"
	echo "syncLimit=5"
	echo "dataDir=$data"
	echo "clientPort=$port"
	echo "clientPortAddress=127.0.0.1"
	echo "minSessionTimeout=1000"
	echo "maxSessionTimeout=60000"
	echo "maxClientCnxns=0"
	echo "maxCnxns=0"
	echo "admin.enableServer=false"
	echo "4lw.commands.whitelist=*"
	echo "autopurge.purgeInterval=0"
	for kv in "$@"; do echo "$kv"; done
} >"$cfg"
exec java ${ZK_JAVA_OPTS:--Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1} \
	-Dlogback.configurationFile="$home/conf/logback.xml" \
	-Dzookeeper.jmx.log4j.disable=true \
	-cp "$home/lib/*" org.apache.zookeeper.server.ZooKeeperServerMain "$cfg"
SH
chmod +x "$dest/bin/zk-server.tmp"
mv "$dest/bin/zk-server.tmp" "$dest/bin/zk-server"
echo "zookeeper $ZK_VERSION ready: $dest/bin/zk-server"
