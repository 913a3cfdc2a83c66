"""confluent-kafka (librdkafka) driven by the broker's compatibility suite.

  confluent_client.py produce <bootstrap> <topic> <n> <codec>
      Produces key-%04d/value-%04d for i in 0..n-1 in order with
      compression.type=<codec> and the client's other defaults, waits for
      every delivery report and exits non-zero on any error.
  confluent_client.py consume <bootstrap> <topic> <n> <group>
      Subscribes with group.id=<group> (auto.offset.reset=earliest, the
      default isolation.level read_committed) until n records arrived, prints
      one JSON object per record, commits synchronously and closes.
  confluent_client.py transact <bootstrap> <topic> <n> <transactional.id>
      A transactional producer: init_transactions, then three transactions
      of n records each: key-%04d/value-%04d committed, abort-%04d aborted,
      key-(n+i)/value-(n+i) committed; exits non-zero on any error.
"""
import json
import sys
import time

from topic_ready import wait_for_partitions
from confluent_kafka import Consumer, KafkaException, Producer


def produce(bootstrap, topic, n, codec):
    # librdkafka sends a batch uncompressed when compressing does not make it smaller, which a
    # batch of one record can be: the partitions are known before the first record and the
    # linger is long enough for every record to be batched (topic_ready.py).
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 200})
    wait_for_partitions(p, topic)
    errors = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))

    for i in range(n):
        p.produce(topic, key="key-%04d" % i, value="value-%04d" % i, on_delivery=report)
        p.poll(0)
    left = p.flush(60)
    if left or errors:
        sys.exit("produce: %d undelivered, errors: %s" % (left, errors[:5]))


def consume(bootstrap, topic, n, group):
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
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
            print(json.dumps({"partition": msg.partition(), "offset": msg.offset(),
                              "key": msg.key().decode(), "value": msg.value().decode()}))
            got += 1
        c.commit(asynchronous=False)
    finally:
        c.close()


def transact(bootstrap, topic, n, txn_id):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                  "transaction.timeout.ms": 60000})
    errors = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))

    p.init_transactions(30)
    for first, prefix, commit in ((0, "key", True), (0, "abort", False), (n, "key", True)):
        p.begin_transaction()
        for i in range(first, first + n):
            value = ("value-%04d" % i) if prefix == "key" else ("abort-%04d" % i)
            p.produce(topic, key="%s-%04d" % (prefix, i), value=value, on_delivery=report)
            p.poll(0)
        if commit:
            p.commit_transaction(30)
        else:
            p.flush(30)
            p.abort_transaction(30)
    if errors:
        sys.exit("transact: errors: %s" % errors[:5])


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "produce":
        produce(args[0], args[1], int(args[2]), args[3])
    elif cmd == "consume":
        consume(args[0], args[1], int(args[2]), args[3])
    elif cmd == "transact":
        transact(args[0], args[1], int(args[2]), args[3])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
