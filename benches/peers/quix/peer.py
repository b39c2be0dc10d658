"""The Quix Streams contender of the peer benchmark (see ../README.md).

Usage:
    peer.py <workload> <brokers> <input-topic> <output-topic> <application-id>
            <guarantee> <commit-ms> <threads> <state-dir> <registry-url>

Install with scripts/install-quix.sh, run with the venv it makes:
    ${MESHKIT_CACHE:-$HOME/.cache/meshkit}/venv-quix/bin/python peer.py ...

One Quix Application per process, on one thread: `threads` must be 1.
Runs until SIGTERM, which Quix Streams handles itself: it leaves the
processing loop, commits what it processed and exits 0. The logs are
Quix's, at WARNING unless QUIX_PEER_LOGLEVEL says otherwise.
"""

import os
import sys
import warnings
from typing import NoReturn

# Authlib, which the schema-registry client pulls in, warns about its own
# httpx fallback on import, with a filter of its own that an "ignore" cannot
# beat; recording the import's warnings keeps them off the harness's stderr.
with warnings.catch_warnings(record=True):
    from quixstreams import Application, State
    from quixstreams.models.serializers import SerializationContext, Serializer
    from quixstreams.models.serializers.avro import AvroDeserializer, AvroSerializer
    from quixstreams.models.serializers.schema_registry import SchemaRegistryClientConfig

USAGE = (
    "usage: peer.py WORKLOAD BROKERS INPUT_TOPIC OUTPUT_TOPIC APPLICATION_ID "
    "GUARANTEE COMMIT_MS THREADS STATE_DIR REGISTRY_URL"
)
GUARANTEES = {"exactly_once": "exactly-once", "at_least_once": "at-least-once"}
WINDOW_MS = 60_000
ENRICHED_ORDER = {
    "type": "record", "name": "EnrichedOrder", "namespace": "bench",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "customer", "type": "string"},
        {"name": "amount_cents", "type": "long"},
        {"name": "status", "type": "string"},
        {"name": "amount_band", "type": "string"},
        {"name": "priority", "type": "boolean"},
    ],
}


def refuse(message: str) -> NoReturn:
    print(f"quix peer: {message}", file=sys.stderr)
    sys.exit(2)


def running_sum(value: bytes, state: State) -> bytes:
    # The state is the current message key's: Quix prefixes it with the key.
    total = state.get("sum", 0) + int.from_bytes(value, "big", signed=True)
    state.set("sum", total)
    return total.to_bytes(8, "big", signed=True)


class WindowCount(Serializer):
    """A closed window's count, as an 8-byte big-endian integer."""

    def __call__(self, value: dict, ctx: SerializationContext) -> bytes:
        return value["value"].to_bytes(8, "big", signed=True)


def enrich(order: dict) -> dict:
    cents = order["amount_cents"]
    band = "small" if cents < 1_000 else "medium" if cents < 10_000 else "large"
    return {
        "order_id": order["order_id"],
        "customer": order["customer"],
        "amount_cents": cents,
        "status": order["status"],
        "amount_band": band,
        "priority": band == "large" and order["status"] == "paid",
    }


def w1(app: Application, input_topic: str, output_topic: str, registry_url: str) -> None:
    """Drops cancelled orders and enriches the others, Avro in and out."""
    registry = SchemaRegistryClientConfig(url=registry_url)
    # Orders are read with the writer's schema, found by the id in each
    # record; EnrichedOrder is registered under <output-topic>-value (or
    # found there) by the first record, as Confluent's serializer does.
    source = app.topic(
        input_topic,
        key_deserializer="bytes",
        value_deserializer=AvroDeserializer(schema_registry_client_config=registry),
    )
    sink = app.topic(
        output_topic,
        key_serializer="bytes",
        value_serializer=AvroSerializer(ENRICHED_ORDER, schema_registry_client_config=registry),
    )
    sdf = app.dataframe(source)
    sdf = sdf.filter(lambda order: order["status"] != "cancelled")
    sdf = sdf.apply(enrich)
    sdf = sdf.to_topic(sink)


def w2(app: Application, input_topic: str, output_topic: str, _registry_url: str) -> None:
    """Running sum per key in the key's state, every update emitted."""
    source = app.topic(input_topic, key_deserializer="bytes", value_deserializer="bytes")
    sink = app.topic(output_topic, key_serializer="bytes", value_serializer="bytes")
    sdf = app.dataframe(source)
    sdf = sdf.apply(running_sum, stateful=True)
    # to_topic keeps the input record's key and timestamp on the output.
    sdf = sdf.to_topic(sink)


def w3(app: Application, input_topic: str, output_topic: str, _registry_url: str) -> None:
    """Count per key per one-minute tumbling window, emitted once, when the
    partition's stream time closes the window."""
    source = app.topic(input_topic, key_deserializer="bytes", value_deserializer="bytes")
    sink = app.topic(output_topic, key_serializer="bytes", value_serializer=WindowCount())
    sdf = app.dataframe(source)
    # "partition": any record of the partition advances the time that closes
    # windows (with the default, "key", only the key's own records would,
    # and the harness's flush records could not close the input's windows).
    sdf = sdf.tumbling_window(duration_ms=WINDOW_MS, grace_ms=0).count().final(
        closing_strategy="partition"
    )
    # Quix stamps a window's result with the window's start; the contract
    # wants its end.
    sdf = sdf.set_timestamp(lambda value, key, timestamp, headers: value["end"])
    # to_topic's key function sees the value only, so the value carries the
    # input key to it.
    sdf = sdf.apply(lambda value, key, timestamp, headers: {**value, "key": key}, metadata=True)
    sdf = sdf.to_topic(sink, key=lambda value: b"%s@%d" % (value["key"], value["start"]))


WORKLOADS = {"w1": w1, "w2": w2, "w3": w3}


def main(argv: list) -> None:
    if len(argv) != 10:
        refuse(USAGE)
    (workload, brokers, input_topic, output_topic, application_id,
     guarantee, commit_ms, threads, state_dir, registry_url) = argv
    if workload not in WORKLOADS:
        refuse(f"workload `{workload}` is not implemented here (only {', '.join(WORKLOADS)})")
    if workload == "w1" and registry_url == "-":
        refuse("w1 needs a schema registry's URL, not `-`")
    if guarantee not in GUARANTEES:
        refuse(f"guarantee `{guarantee}` is neither exactly_once nor at_least_once")
    try:
        commit_interval = int(commit_ms) / 1000
    except ValueError:
        refuse(f"commit-ms `{commit_ms}` is not a whole number of milliseconds")
    if threads != "1":
        # An Application processes all its partitions on one thread; more
        # parallelism means more processes, which this contract does not do.
        refuse(f"threads `{threads}`: Quix Streams runs one processing thread, only 1 is accepted")

    app = Application(
        broker_address=brokers,
        consumer_group=application_id,
        processing_guarantee=GUARANTEES[guarantee],
        commit_interval=commit_interval,
        state_dir=state_dir,
        auto_offset_reset="earliest",
        # librdkafka's default already; said here because the contract
        # requires it of every contender.
        consumer_extra_config={"isolation.level": "read_committed"},
        loglevel=os.environ.get("QUIX_PEER_LOGLEVEL", "WARNING"),
    )
    # Both topics exist (the harness made them): Quix reads their settings
    # from the broker and creates only its own changelog topics, named
    # changelog__<application-id>--<input-topic>--<store>.
    WORKLOADS[workload](app, input_topic, output_topic, registry_url)
    app.run()


if __name__ == "__main__":
    main(sys.argv[1:])
