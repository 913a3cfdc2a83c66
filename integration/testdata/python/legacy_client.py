"""confluent-kafka (librdkafka) as a client of an old broker: api.version.request=false and
broker.version.fallback=<fallback> (0.9.0: Produce v1, Fetch v1, message format v0; 0.10.0:
Produce v2, Fetch v2, message format v1), so that it speaks the protocol of that release.

  legacy_client.py produce <bootstrap> <topic> <n> <codec> <fallback> <ts0>
      Produces key-%04d/value-%04d with the CreateTime ts0+i for i in 0..n-1, in order, to
      partition i % 2 with compression.codec=<codec>; prints one JSON object per delivery
      report (partition, offset, timestamp type and timestamp as the client reports them) and
      exits non-zero on any error.
  legacy_client.py consume <bootstrap> <topic> <n> <group> <fallback>
      Subscribes with group.id=<group> (auto.offset.reset=earliest) until n records arrived,
      prints one JSON object per record with its timestamp type and timestamp, commits and
      closes.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer


def old(bootstrap, fallback):
    return {"bootstrap.servers": bootstrap, "api.version.request": False,
            "broker.version.fallback": fallback, "log_level": 3}


def produce(bootstrap, topic, n, codec, fallback, ts0):
    p = Producer(dict(old(bootstrap, fallback), **{"compression.codec": codec, "linger.ms": 20}))
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
    if left or errors:
        sys.exit("produce: %d undelivered, errors: %s" % (left, errors[:5]))


def consume(bootstrap, topic, n, group, fallback):
    c = Consumer(dict(old(bootstrap, fallback), **{
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }))
    c.subscribe([topic])
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
            print(json.dumps({"partition": msg.partition(), "offset": msg.offset(),
                              "key": msg.key().decode(), "value": msg.value().decode(),
                              "tstype": tstype, "ts": ts}))
            got += 1
        c.commit(asynchronous=False)
    finally:
        c.close()


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
