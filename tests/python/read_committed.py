#!/usr/bin/env python3
"""Reads a whole topic as a product's downstream users do: Confluent's own
Python client with isolation.level=read_committed.

Usage (after scripts/install-python.sh):
    python read_committed.py --brokers B --topic T [--timeout SECS]

Assigns every partition from the beginning, reads until each one reports its
end (for a read_committed consumer: the last stable offset), and prints one
JSON line per record: partition, offset, key and value (as text). Exits
non-zero on any error or when the end is not reached within the timeout.
"""

import argparse
import json
import sys
import time

try:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
except ImportError as e:  # pragma: no cover - environment problem
    print(f"read_committed: confluent-kafka is not installed ({e}); run scripts/install-python.sh",
          file=sys.stderr)
    sys.exit(2)


def text(b):
    return None if b is None else b.decode("utf-8", errors="replace")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": f"read-committed-{time.time_ns()}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
    })
    topic = consumer.list_topics(args.topic, timeout=10).topics.get(args.topic)
    if topic is None or topic.error is not None:
        print(f"read_committed: topic {args.topic}: {topic.error if topic else 'not found'}",
              file=sys.stderr)
        sys.exit(1)
    partitions = sorted(topic.partitions)
    consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in partitions])
    at_end = set()
    deadline = time.time() + args.timeout
    out = sys.stdout
    while len(at_end) < len(partitions):
        if time.time() > deadline:
            print(f"read_committed: end of {sorted(set(partitions) - at_end)} not reached "
                  f"within {args.timeout}s", file=sys.stderr)
            sys.exit(1)
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(msg.partition())
                continue
            print(f"read_committed: consumer error: {msg.error()}", file=sys.stderr)
            sys.exit(1)
        at_end.discard(msg.partition())
        out.write(json.dumps({"partition": msg.partition(), "offset": msg.offset(),
                              "key": text(msg.key()), "value": text(msg.value())}) + "\n")
    consumer.close()


if __name__ == "__main__":
    main()
