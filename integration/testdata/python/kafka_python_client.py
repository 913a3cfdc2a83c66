"""kafka-python driven by the broker's compatibility suite.

  kafka_python_client.py produce <bootstrap> <topic> <n>
      Produces key-%04d/value-%04d for i in 0..n-1 with the client's defaults
      and waits for every acknowledgement.
  kafka_python_client.py consume <bootstrap> <topic> <n> <group>
      Subscribes with group_id=<group> (auto_offset_reset=earliest) until n
      records arrived, prints one JSON object per record, commits and closes.
  kafka_python_client.py admin <bootstrap> <topic>
      Creates <topic> with 3 partitions, checks it is listed, deletes it and
      checks it is gone; prints what it saw.
"""
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic


def produce(bootstrap, topic, n):
    p = KafkaProducer(bootstrap_servers=bootstrap)
    futures = [p.send(topic, key=b"key-%04d" % i, value=b"value-%04d" % i) for i in range(n)]
    p.flush(60)
    for f in futures:
        f.get(timeout=60)
    p.close(10)


def consume(bootstrap, topic, n, group):
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False)
    got = 0
    deadline = time.time() + 90
    try:
        while got < n:
            if time.time() > deadline:
                sys.exit("consume: %d of %d records after 90s" % (got, n))
            for tp, msgs in c.poll(timeout_ms=1000).items():
                for m in msgs:
                    print(json.dumps({"partition": m.partition, "offset": m.offset,
                                      "key": m.key.decode(), "value": m.value.decode()}))
                    got += 1
        c.commit()
    finally:
        c.close()


def admin(bootstrap, topic):
    a = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        a.create_topics([NewTopic(name=topic, num_partitions=3, replication_factor=1)])
        deadline = time.time() + 30
        while topic not in a.list_topics():
            if time.time() > deadline:
                sys.exit("created topic %s not listed after 30s" % topic)
            time.sleep(0.2)
        parts = a.describe_topics([topic])[0]["partitions"]
        print(json.dumps({"created": topic, "partitions": len(parts)}))
        a.delete_topics([topic])
        deadline = time.time() + 30
        while topic in a.list_topics():
            if time.time() > deadline:
                sys.exit("deleted topic %s still listed after 30s" % topic)
            time.sleep(0.2)
        print(json.dumps({"deleted": topic}))
    finally:
        a.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "produce":
        produce(args[0], args[1], int(args[2]))
    elif cmd == "consume":
        consume(args[0], args[1], int(args[2]), args[3])
    elif cmd == "admin":
        admin(args[0], args[1])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
