"""confluent-kafka (librdkafka) as a client of an old broker: api.version.request=false and
broker.version.fallback=<fallback>. With 0.8.2 it speaks Produce v0 and Fetch v0 and has no
consumer groups, with 0.9.0 Produce v1 and Fetch v1, both with message format v0. From 0.10.0
on librdkafka turns api.version.request back on (rd_kafka_ApiVersion_is_queryable) and
negotiates the versions the broker advertises.

  legacy_client.py produce <bootstrap> <topic> <n> <codec> <fallback> <ts0>
      Produces key-%04d/value-%04d with the CreateTime ts0+i for i in 0..n-1, in order, to
      partition i % 2 with compression.codec=<codec>; prints one JSON object per delivery
      report (partition, offset, timestamp type and timestamp as the client reports them) and
      exits non-zero on any error.
  legacy_client.py consume <bootstrap> <topic> <n> <group> <fallback>
      Subscribes with group.id=<group> (auto.offset.reset=earliest) until n records arrived,
      prints one JSON object per record with its timestamp type and timestamp, commits and
      closes. With 0.8.x (no groups) it assigns partitions 0 and 1 from the beginning instead.

Both end with a line "USED {...}": the versions of each request the client sent, taken from
librdkafka's protocol debug log.
"""
import json
import logging
import re
import sys
import time

from topic_ready import wait_for_partitions
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition, OFFSET_BEGINNING


class Versions(logging.Handler):
    """Collects the request versions from librdkafka's "Sent XRequest (vN, ..." lines."""

    def __init__(self):
        super().__init__()
        self.used = {}

    def emit(self, record):
        m = re.search(r"Sent (\w+)Request \(v(\d+)", record.getMessage())
        if m:
            self.used.setdefault(m.group(1), set()).add(int(m.group(2)))

    def report(self):
        print("USED " + json.dumps({k: sorted(v) for k, v in self.used.items()}))


VERSIONS = Versions()


def old(bootstrap, fallback):
    logger = logging.getLogger("rdkafka")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(VERSIONS)
    return {"bootstrap.servers": bootstrap, "api.version.request": False,
            "broker.version.fallback": fallback, "debug": "protocol", "logger": logger}


def produce(bootstrap, topic, n, codec, fallback, ts0):
    p = Producer(dict(old(bootstrap, fallback), **{"compression.codec": codec, "linger.ms": 200}))
    wait_for_partitions(p, topic)
    errors = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
            return
        tstype, ts = msg.timestamp()
        print(json.dumps({"partition": msg.partition(), "offset": msg.offset(),
                          "key": msg.key().decode(), "tstype": tstype, "ts": ts}))

    for i in range(n):
        p.produce(topic, key="key-%04d" % i, value="value-%04d" % i, partition=i % 2,
                  timestamp=ts0 + i, on_delivery=report)
        p.poll(0)
    left = p.flush(60)
    VERSIONS.report()
    if left or errors:
        sys.exit("produce: %d undelivered, errors: %s" % (left, errors[:5]))


def consume(bootstrap, topic, n, group, fallback):
    c = Consumer(dict(old(bootstrap, fallback), **{
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }))
    groups = not fallback.startswith("0.8")
    if groups:
        c.subscribe([topic])
    else:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in (0, 1)])
    got = 0
    deadline = time.time() + 90
    try:
        while got < n:
            if time.time() > deadline:
                sys.exit("consume: %d of %d records after 90s" % (got, n))
            msg = c.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            tstype, ts = msg.timestamp()
            key, value = msg.key(), msg.value()
            print(json.dumps({"partition": msg.partition(), "offset": msg.offset(),
                              "key": key.decode() if key is not None else None,
                              "value": value.decode() if value is not None else None,
                              "tstype": tstype, "ts": ts}))
            got += 1
        if groups:
            c.commit(asynchronous=False)
    finally:
        c.close()
        VERSIONS.report()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "produce":
        produce(args[0], args[1], int(args[2]), args[3], args[4], int(args[5]))
    elif cmd == "consume":
        consume(args[0], args[1], int(args[2]), args[3], args[4])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
