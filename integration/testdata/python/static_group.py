"""Static members started together (group.initial.rebalance.delay.ms=0 on the broker).

  static_group.py <bootstrap> <topic> <partitions> <group> <members>
      Starts <members> confluent-kafka consumers with group.instance.id static-<i>, in threads
      released by one barrier, each subscribing to <topic>. Once the members together own all
      <partitions> partitions and nothing has changed for 5 s, prints one JSON object:
      {"revoked": <partitions revoked before close>, "owners": {member: [partitions]}}.
"""
import json
import sys
import threading
import time

from confluent_kafka import Consumer


def main(bootstrap, topic, partitions, group, members):
    lock = threading.Lock()
    owners = {}
    revoked = [0]
    changed = [time.time()]
    stop = threading.Event()
    barrier = threading.Barrier(members)
    consumers = []

    def run(i):
        name = "static-%d" % i
        c = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "group.instance.id": name,
            "session.timeout.ms": 10000,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        })
        consumers.append(c)

        def on_assign(consumer, parts):
            print("assign %s %s" % (name, [p.partition for p in parts]), file=sys.stderr)
            with lock:
                owners[name] = sorted(p.partition for p in parts)
                changed[0] = time.time()

        def on_revoke(consumer, parts):
            print("revoke %s %s" % (name, [p.partition for p in parts]), file=sys.stderr)
            with lock:
                if not stop.is_set():
                    revoked[0] += len(parts)
                owners[name] = []
                changed[0] = time.time()

        c.list_topics(topic, timeout=30)  # connect ahead, so that the joins, not the dials, start together
        barrier.wait()
        c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        while not stop.is_set():
            c.poll(0.2)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(members)]
    for t in threads:
        t.start()
    deadline = time.time() + 90
    while time.time() < deadline:
        with lock:
            owned = sum(len(v) for v in owners.values())
            quiet = time.time() - changed[0]
        if owned == partitions and quiet > 5:
            break
        time.sleep(0.2)
    with lock:
        summary = {"revoked": revoked[0], "owners": dict(owners)}
    stop.set()
    for t in threads:
        t.join()
    for c in consumers:
        c.close()
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
