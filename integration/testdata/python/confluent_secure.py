"""confluent-kafka (librdkafka) over SASL_SSL, driven by the broker's security tests.

    python confluent_secure.py <bootstrap> <topic> <n> <mechanism> <user> <password> <ca.pem>

Produces n records, then consumes them in a group and commits; prints "consumed <n>".
"""
import sys

from confluent_kafka import Consumer, Producer


def main():
    bootstrap, topic, n, mech, user, password, ca = sys.argv[1:8]
    n = int(n)
    common = {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mech,
        "sasl.username": user,
        "sasl.password": password,
        "ssl.ca.location": ca,
    }
    p = Producer(dict(common, **{"acks": "all"}))
    errors = []
    for i in range(n):
        p.produce(topic, key=b"k%04d" % i, value=b"v%04d" % i,
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
    p.flush(60)
    if errors:
        print("produce errors:", errors, file=sys.stderr)
        sys.exit(1)
    c = Consumer(dict(common, **{"group.id": "secure-ck", "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    c.subscribe([topic])
    got = 0
    for _ in range(600):
        if got >= n:
            break
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            print("consume error:", msg.error(), file=sys.stderr)
            sys.exit(1)
        got += 1
    c.commit(asynchronous=False)
    c.close()
    print("consumed", got)
    sys.exit(0 if got >= n else 1)


if __name__ == "__main__":
    main()
