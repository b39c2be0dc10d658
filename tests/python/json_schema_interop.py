#!/usr/bin/env python3
"""Moves JSON Schema records between Confluent's own Python client and a
meshkit product.

Usage (after scripts/install-python.sh):
    python json_schema_interop.py produce --brokers B --registry URL --topic T --count N
    python json_schema_interop.py consume --brokers B --registry URL --topic T --count N

`produce` writes orders 1..N, keyed by customer, with confluent-kafka's
JSONSerializer (which registers its JSON Schema under `<topic>-value` and
validates each order against it, as any Confluent producer does). `consume`
reads N records with JSONDeserializer, which looks up the writer's schema by
the id in each record and validates the record against it, and prints each
as one JSON line. Exits non-zero on any error.
"""

import argparse
import json
import sys
import time

try:
    from confluent_kafka import DeserializingConsumer, SerializingProducer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
    from confluent_kafka.serialization import StringDeserializer, StringSerializer
except ImportError as e:  # pragma: no cover - environment problem
    print(f"json_schema_interop: confluent-kafka[json] is not installed ({e}); run scripts/install-python.sh",
          file=sys.stderr)
    sys.exit(2)

ORDER_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "JsonOrder",
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "customer": {"type": "string"},
        "amount_cents": {"type": "integer"},
        "channel": {"type": "string"},
    },
    "required": ["id", "customer", "amount_cents"],
})


def produce(args, registry):
    serializer = JSONSerializer(ORDER_SCHEMA, registry, lambda o, ctx: o)
    producer = SerializingProducer({
        "bootstrap.servers": args.brokers,
        "key.serializer": StringSerializer("utf_8"),
        "value.serializer": serializer,
        "enable.idempotence": True,
    })
    errors = []
    for i in range(args.start, args.start + args.count):
        order = {"id": i, "customer": f"c{i % 7}", "amount_cents": i * 97, "channel": "python"}
        producer.produce(args.topic, key=order["customer"], value=order,
                         on_delivery=lambda err, msg: errors.append(err) if err else None)
        producer.poll(0)
    producer.flush(60)
    if errors:
        print(f"json_schema_interop: {len(errors)} records failed: {errors[0]}", file=sys.stderr)
        sys.exit(1)


def consume(args, registry):
    consumer = DeserializingConsumer({
        "bootstrap.servers": args.brokers,
        "group.id": f"json-schema-interop-{time.time_ns()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "key.deserializer": StringDeserializer("utf_8"),
        # No schema of its own: the writer's, by the id in each record.
        "value.deserializer": JSONDeserializer(None, schema_registry_client=registry),
    })
    consumer.subscribe([args.topic])
    seen = 0
    deadline = time.time() + args.timeout
    while seen < args.count and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            print(f"json_schema_interop: consumer error: {msg.error()}", file=sys.stderr)
            sys.exit(1)
        print(json.dumps({"key": msg.key(), "value": msg.value()}, sort_keys=True))
        seen += 1
    consumer.close()
    if seen < args.count:
        print(f"json_schema_interop: read {seen} of {args.count} records in {args.timeout}s", file=sys.stderr)
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["produce", "consume"])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--start", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    registry = SchemaRegistryClient({"url": args.registry})
    if args.mode == "produce":
        produce(args, registry)
    else:
        consume(args, registry)


if __name__ == "__main__":
    main()
