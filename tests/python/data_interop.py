#!/usr/bin/env python3
"""Moves records between Confluent's own Python client and a meshkit product.

Usage (after scripts/install-python.sh):
    python data_interop.py produce --brokers B --registry URL --topic T --count N [--v1] [--format F]
    python data_interop.py consume --brokers B --registry URL --topic T --count N [--format F]

`produce` writes orders 1..N, keyed by customer, with confluent-kafka's
AvroSerializer, its JSONSerializer with `--format json_schema`, or its
ProtobufSerializer with `--format protobuf` (each registers its schema under
`<topic>-value`, as any Confluent producer does, and the JSON one validates
each order against it); with --v1 it writes the older Avro schema without
`channel`. `consume` reads N records with AvroDeserializer, JSONDeserializer
or ProtobufDeserializer (the writer's schema looked up by the id in each
record; the JSON one validates each record against it, the Protobuf one
builds the writer's message type from the file descriptor the registry
gives) and prints each as one JSON line. Exits non-zero on any error.

The Protobuf messages are built here from a file descriptor, as protoc's
output would hold it: `interop/order.proto`, package `interop`, with
`ProtoOrder {int64 id = 1; string customer = 2; int64 amount_cents = 3;
string channel = 4;}` and `ProtoBanded {int64 id = 1; string customer = 2;
string band = 3;}`.
"""

import argparse
import json
import sys
import time

try:
    from confluent_kafka import DeserializingConsumer, SerializingProducer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
    from confluent_kafka.serialization import StringSerializer
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
except ImportError as e:  # pragma: no cover - environment problem
    print(f"data_interop: confluent-kafka[avro,json,protobuf] is not installed ({e}); run scripts/install-python.sh",
          file=sys.stderr)
    sys.exit(2)

FIELDS_V1 = [
    {"name": "id", "type": "long"},
    {"name": "customer", "type": "string"},
    {"name": "amount_cents", "type": "long"},
]
FIELDS_V2 = FIELDS_V1 + [{"name": "channel", "type": "string", "default": "unknown"}]


def order_schema(v1):
    return json.dumps({"type": "record", "name": "Order", "namespace": "com.example.sales",
                       "fields": FIELDS_V1 if v1 else FIELDS_V2})


ORDER_JSON_SCHEMA = json.dumps({
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


def proto_messages():
    """The message classes of interop/order.proto: (ProtoOrder, ProtoBanded)."""
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="interop/order.proto", package="interop", syntax="proto3")
    for name, fields in [
        ("ProtoOrder", [("id", field.TYPE_INT64), ("customer", field.TYPE_STRING),
                        ("amount_cents", field.TYPE_INT64), ("channel", field.TYPE_STRING)]),
        ("ProtoBanded", [("id", field.TYPE_INT64), ("customer", field.TYPE_STRING), ("band", field.TYPE_STRING)]),
    ]:
        message = file.message_type.add(name=name)
        for number, (field_name, kind) in enumerate(fields, start=1):
            message.field.add(name=field_name, number=number, type=kind, label=field.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(file.SerializeToString())
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(f"interop.{name}"))
                 for name in ("ProtoOrder", "ProtoBanded"))


def produce(args, registry):
    if args.format == "json_schema":
        serializer = JSONSerializer(ORDER_JSON_SCHEMA, registry, lambda o, ctx: o)
    elif args.format == "protobuf":
        order_type, _ = proto_messages()
        proto = ProtobufSerializer(order_type, registry, {"use.deprecated.format": False})
        serializer = lambda order, ctx: proto(order_type(**order), ctx)  # noqa: E731
    else:
        serializer = AvroSerializer(registry, order_schema(args.v1), lambda o, ctx: o)
    producer = SerializingProducer({
        "bootstrap.servers": args.brokers,
        "key.serializer": StringSerializer("utf_8"),
        "value.serializer": serializer,
        "enable.idempotence": True,
    })
    errors = []
    for i in range(args.start, args.start + args.count):
        order = {"id": i, "customer": f"c{i % 7}", "amount_cents": i * 97}
        if not args.v1:
            order["channel"] = "python"
        producer.produce(args.topic, key=order["customer"], value=order,
                         on_delivery=lambda err, msg: errors.append(err) if err else None)
        producer.poll(0)
    producer.flush(60)
    if errors:
        print(f"data_interop: {len(errors)} records failed: {errors[0]}", file=sys.stderr)
        sys.exit(1)


def deserializer(kind, registry):
    if kind == "json_schema":
        return JSONDeserializer(None, schema_registry_client=registry)
    if kind == "protobuf":
        # Given the registry, it decodes each record as the message its
        # indexes name in the writer's file; the class here is only a default.
        _, banded_type = proto_messages()
        proto = ProtobufDeserializer(banded_type, {"use.deprecated.format": False}, schema_registry_client=registry)

        def fields(data, ctx):
            message = proto(data, ctx)
            return {f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields}
        return fields
    return AvroDeserializer(registry)


def consume(args, registry):
    consumer = DeserializingConsumer({
        "bootstrap.servers": args.brokers,
        "group.id": f"data-interop-{time.time_ns()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        # No schema of its own: the writer's, by the id in each record.
        "value.deserializer": deserializer(args.format, registry),
    })
    consumer.subscribe([args.topic])
    seen = 0
    deadline = time.time() + args.timeout
    while seen < args.count and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            print(f"data_interop: consumer error: {msg.error()}", file=sys.stderr)
            sys.exit(1)
        key = msg.key().decode() if msg.key() is not None else None
        print(json.dumps({"key": key, "value": msg.value()}, sort_keys=True))
        seen += 1
    consumer.close()
    if seen < args.count:
        print(f"data_interop: read {seen} of {args.count} records in {args.timeout}s", file=sys.stderr)
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["produce", "consume"])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--start", type=int, default=1)
    parser.add_argument("--v1", action="store_true")
    parser.add_argument("--format", choices=["avro", "json_schema", "protobuf"], default="avro")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    registry = SchemaRegistryClient({"url": args.registry})
    if args.mode == "produce":
        produce(args, registry)
    else:
        consume(args, registry)


if __name__ == "__main__":
    main()
