"""wait_for_partitions: block until a producer's metadata shows every partition of a topic
with a leader.

librdkafka sends a batch uncompressed when compressing does not make it smaller. Records
produced before the client knows the topic's partitions wait in a queue while linger.ms runs
out, and the first of them can then leave alone in a batch of one, which compression does not
shrink. Once the partitions are known, linger.ms batches a quick run of records together, and
the tests see the codec the client was configured with.
"""
import time


def wait_for_partitions(client, topic, timeout=30.0):
    deadline = time.time() + timeout
    last = "no answer"
    while time.time() < deadline:
        try:
            md = client.list_topics(topic, timeout=5)
            t = md.topics.get(topic)
            if t is not None and t.error is None and t.partitions and \
                    all(p.leader >= 0 for p in t.partitions.values()):
                return
            last = t.error if t is not None else "topic missing"
        except Exception as e:  # a metadata request that timed out: ask again
            last = e
        time.sleep(0.05)
    raise SystemExit("topic %s: partitions without a leader after %ss: %s" % (topic, timeout, last))
