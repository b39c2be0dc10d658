#!/usr/bin/env python3
"""Checks a Confluent-compatible schema registry with Confluent's own client.

Usage (after scripts/install-python.sh):
    ~/.cache/meshkit/venv/bin/python tests/python/registry_interop.py --registry http://127.0.0.1:PORT

Drives confluent_kafka.schema_registry.SchemaRegistryClient (and the Avro
serializer / deserializer on top of it) through registration, lookup, reads,
compatibility checks, compatibility levels and deletes, and asserts that the
answers and error codes are Confluent Schema Registry's. Subjects get a random
prefix, so the registry may hold other data; the global compatibility level is
set during the run and put back afterwards.

Exits 0 when every check passed; otherwise prints each mismatch and exits 1
(2 when the client library is missing or the registry cannot be reached).
"""

import argparse
import json
import sys
import uuid

try:
    import confluent_kafka
    from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.schema_registry.schema_registry_client import (
        ConfigCompatibilityLevel,
        ServerConfig,
    )
    from confluent_kafka.serialization import MessageField, SerializationContext
except ImportError as e:  # pragma: no cover - environment problem
    print(f"registry_interop: confluent-kafka[avro] is not installed ({e}); run scripts/install-python.sh",
          file=sys.stderr)
    sys.exit(2)


def record(name, fields):
    return json.dumps({"type": "record", "name": name, "namespace": "interop", "fields": fields})


USER_V1 = record("User", [{"name": "name", "type": "string"}])
# The same schema written differently (spacing, attribute order, {"type": "string"}).
USER_V1_SPACED = json.dumps(
    {"fields": [{"type": {"type": "string"}, "name": "name"}], "name": "User", "namespace": "interop",
     "type": "record"}, indent=2)
# Backward compatible: a new field with a default.
USER_V2 = record("User", [{"name": "name", "type": "string"}, {"name": "age", "type": "int", "default": 0}])
# Also compatible with both.
USER_V3 = record("User", [{"name": "name", "type": "string"}, {"name": "age", "type": "int", "default": 0},
                          {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []}])
# Incompatible under BACKWARD: a new field without a default.
USER_BAD = record("User", [{"name": "name", "type": "string"}, {"name": "email", "type": "string"}])
NOT_REGISTERED = record("Other", [{"name": "x", "type": "long"}])
INVALID = '{"type": "record", "name": "Broken", "fields": [{"name": "x", "type": "nosuchtype"}]}'
# A type registered on its own, and a schema that refers to it by name.
CUSTOMER = record("Customer", [{"name": "id", "type": "long"}])
ORDER = record("Order", [{"name": "buyer", "type": "interop.Customer"}])
PROTO = 'syntax = "proto3";\npackage interop;\nmessage Ping { int64 at = 1; }\n'


class Checks:
    """Collects mismatches instead of stopping at the first."""

    def __init__(self):
        self.failures = []
        self.passed = 0

    def ok(self, what, condition, detail=""):
        if condition:
            self.passed += 1
        else:
            self.failures.append(f"{what}: {detail}" if detail else what)
        return condition

    def eq(self, what, got, want):
        return self.ok(what, got == want, f"got {got!r}, expected {want!r}")

    def same_schema(self, what, got_text, want_text):
        try:
            got = json.loads(got_text)
        except (TypeError, ValueError) as e:
            return self.ok(what, False, f"schema is not JSON ({e}): {got_text!r}")
        return self.eq(what, normalize(got), normalize(json.loads(want_text)))

    def error(self, what, call, http_status, error_code):
        """`call` must raise SchemaRegistryError with this HTTP status and Confluent code."""
        try:
            result = call()
        except SchemaRegistryError as e:
            self.eq(f"{what}: HTTP status", e.http_status_code, http_status)
            self.eq(f"{what}: error_code (message {e.error_message!r})", e.error_code, error_code)
            self.ok(f"{what}: has a message", bool(e.error_message), "empty message")
            return e
        except Exception as e:  # noqa: BLE001 - any other failure is a mismatch
            self.ok(what, False, f"raised {type(e).__name__}: {e}, expected SchemaRegistryError {error_code}")
            return None
        self.ok(what, False, f"succeeded with {result!r}, expected SchemaRegistryError {error_code}")
        return None

    def call(self, what, call):
        """`call` must succeed; its result, or None (recorded) if it raised."""
        try:
            return call()
        except Exception as e:  # noqa: BLE001
            self.ok(what, False, f"raised {type(e).__name__}: {e}")
            return None


def normalize(schema):
    """{"type": "string"} -> "string", recursively, for comparing schema JSON."""
    if isinstance(schema, dict):
        if set(schema) == {"type"} and isinstance(schema["type"], str):
            return schema["type"]
        return {k: normalize(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [normalize(v) for v in schema]
    return schema


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", required=True, help="base URL, e.g. http://127.0.0.1:8081")
    args = parser.parse_args()
    url = args.registry.rstrip("/")

    def client():
        # A fresh client: the client caches ids, schemas and versions, and
        # checks after deletes must reach the server.
        return SchemaRegistryClient({"url": url, "max.retries": 0})

    checks = Checks()
    sr = client()
    prefix = f"interop-{uuid.uuid4().hex[:8]}-"
    users = prefix + "users-value"
    copy = prefix + "copy-value"
    levels = prefix + "levels-value"
    missing = prefix + "missing"

    try:
        global_before = sr.get_compatibility()
    except Exception as e:  # noqa: BLE001
        print(f"registry_interop: cannot reach the registry at {url}: {e}", file=sys.stderr)
        return 2
    checks.ok("global level is a Confluent level", global_before in {lvl.value for lvl in ConfigCompatibilityLevel},
              repr(global_before))
    checks.eq("set the global level (answer)", sr.set_compatibility(level="backward"), {"compatibility": "BACKWARD"})
    checks.eq("global level after set", client().get_compatibility(), "BACKWARD")

    # --- register ------------------------------------------------------------
    id1 = checks.call("register v1", lambda: sr.register_schema(users, Schema(USER_V1, "AVRO")))
    checks.ok("register answers an int id", isinstance(id1, int) and id1 > 0, repr(id1))
    full = checks.call("register v1 again (full response)",
                       lambda: client().register_schema_full_response(users, Schema(USER_V1, "AVRO")))
    if full is not None:
        checks.eq("re-register: same id", full.schema_id, id1)
        checks.eq("re-register: version", full.version, 1)
        checks.eq("re-register: subject", full.subject, users)
    id1_copy = checks.call("register v1 (spaced) under another subject",
                           lambda: sr.register_schema(copy, Schema(USER_V1_SPACED, "AVRO")))
    checks.eq("the same schema has the same id in every subject", id1_copy, id1)
    id2 = checks.call("register v2", lambda: sr.register_schema(users, Schema(USER_V2, "AVRO")))
    checks.ok("a new schema gets a new id", isinstance(id2, int) and id2 != id1, f"{id2!r} vs {id1!r}")

    # --- read ----------------------------------------------------------------
    found = checks.call("lookup_schema v1", lambda: client().lookup_schema(users, Schema(USER_V1, "AVRO")))
    if found is not None:
        checks.eq("lookup: id", found.schema_id, id1)
        checks.eq("lookup: version", found.version, 1)
        checks.eq("lookup: subject", found.subject, users)
    by_id = checks.call("get_schema(id)", lambda: client().get_schema(id1))
    if by_id is not None:
        checks.same_schema("get_schema: text", by_id.schema_str, USER_V1)
        checks.eq("get_schema: type", by_id.schema_type, "AVRO")
    latest = checks.call("get_latest_version", lambda: client().get_latest_version(users))
    if latest is not None:
        checks.eq("latest: version", latest.version, 2)
        checks.eq("latest: id", latest.schema_id, id2)
        checks.eq("latest: subject", latest.subject, users)
        checks.same_schema("latest: schema", latest.schema.schema_str, USER_V2)
    v1 = checks.call("get_version(1)", lambda: client().get_version(users, 1))
    if v1 is not None:
        checks.eq("version 1: version", v1.version, 1)
        checks.eq("version 1: id", v1.schema_id, id1)
        checks.same_schema("version 1: schema", v1.schema.schema_str, USER_V1)
    subjects = checks.call("get_subjects", lambda: client().get_subjects()) or []
    checks.ok("get_subjects lists both subjects", users in subjects and copy in subjects, repr(subjects))
    checks.eq("get_subjects with a prefix", checks.call("get_subjects(prefix)",
                                                         lambda: client().get_subjects(subject_prefix=prefix)),
              sorted([users, copy]))
    checks.eq("get_versions", client().get_versions(users), [1, 2])

    # --- compatibility -------------------------------------------------------
    checks.eq("test_compatibility: compatible", sr.test_compatibility(users, Schema(USER_V3, "AVRO")), True)
    checks.eq("test_compatibility: incompatible", sr.test_compatibility(users, Schema(USER_BAD, "AVRO")), False)
    checks.eq("test_compatibility verbose: incompatible",
              sr.test_compatibility(users, Schema(USER_BAD, "AVRO"), verbose=True), False)
    checks.eq("test_compatibility against version 1",
              sr.test_compatibility(users, Schema(USER_BAD, "AVRO"), version=1), False)
    checks.eq("test_compatibility_all_versions: compatible",
              sr.test_compatibility_all_versions(users, Schema(USER_V3, "AVRO")), True)
    checks.eq("test_compatibility_all_versions: incompatible",
              sr.test_compatibility_all_versions(users, Schema(USER_BAD, "AVRO")), False)
    checks.eq("test_compatibility on a subject without versions",
              sr.test_compatibility(missing, Schema(USER_BAD, "AVRO")), True)
    e = checks.error("register an incompatible schema",
                     lambda: client().register_schema(users, Schema(USER_BAD, "AVRO")), 409, 409)
    if e is not None:
        checks.ok("the 409 message names the field", "email" in e.error_message, e.error_message)

    # --- levels --------------------------------------------------------------
    checks.error("get_config of a subject without its own level", lambda: client().get_config(levels), 404, 40408)
    checks.eq("set_compatibility(subject)", sr.set_compatibility(levels, "FULL_TRANSITIVE"),
              {"compatibility": "FULL_TRANSITIVE"})
    checks.eq("get_compatibility(subject)", client().get_compatibility(levels), "FULL_TRANSITIVE")
    config = checks.call("get_config(subject)", lambda: client().get_config(levels))
    if config is not None:
        checks.eq("get_config: level", config.compatibility_level, ConfigCompatibilityLevel.FULL_TRANSITIVE)
    checks.call("set_config(subject)",
                lambda: sr.set_config(levels, ServerConfig(compatibility=ConfigCompatibilityLevel.NONE)))
    checks.eq("level after set_config", client().get_compatibility(levels), "NONE")
    checks.error("set an invalid level", lambda: client().set_compatibility(levels, "sideways"), 422, 42203)
    checks.eq("set_compatibility(users) = NONE", sr.set_compatibility(users, "NONE"), {"compatibility": "NONE"})
    checks.eq("test_compatibility at NONE", sr.test_compatibility(users, Schema(USER_BAD, "AVRO")), True)
    checks.eq("set_compatibility(users) = BACKWARD", sr.set_compatibility(users, "BACKWARD"),
              {"compatibility": "BACKWARD"})

    # --- errors --------------------------------------------------------------
    checks.error("get_versions of an unknown subject", lambda: client().get_versions(missing), 404, 40401)
    checks.error("get_latest_version of an unknown subject", lambda: client().get_latest_version(missing), 404, 40401)
    checks.error("get_version of an unknown version", lambda: client().get_version(users, 99), 404, 40402)
    checks.error("get_schema of an unknown id", lambda: client().get_schema(2_000_000_000), 404, 40403)
    checks.error("lookup_schema of an unregistered schema",
                 lambda: client().lookup_schema(users, Schema(NOT_REGISTERED, "AVRO")), 404, 40403)
    checks.error("lookup_schema under an unknown subject",
                 lambda: client().lookup_schema(missing, Schema(USER_V1, "AVRO")), 404, 40401)
    checks.error("register an invalid schema", lambda: client().register_schema(users, Schema(INVALID, "AVRO")),
                 422, 42201)
    checks.error("register malformed JSON", lambda: client().register_schema(users, Schema('{"type":', "AVRO")),
                 422, 42201)
    e = checks.error("register a PROTOBUF schema under an AVRO subject",
                     lambda: client().register_schema(users, Schema(PROTO, "PROTOBUF")), 409, 409)
    if e is not None:
        checks.ok("the 409 message says the type differs", "schema type" in e.error_message, e.error_message)

    # --- other types, references, listings -----------------------------------
    pings = prefix + "pings-value"
    proto_id = checks.call("register a PROTOBUF schema", lambda: sr.register_schema(pings, Schema(PROTO, "PROTOBUF")))
    proto = checks.call("get_schema(PROTOBUF id)", lambda: client().get_schema(proto_id))
    if proto is not None:
        checks.eq("get_schema: PROTOBUF type", proto.schema_type, "PROTOBUF")
        checks.eq("get_schema: PROTOBUF text", proto.schema_str, PROTO)
    customers, orders = prefix + "customers-value", prefix + "purchases-value"
    customer_id = checks.call("register a referenced schema",
                              lambda: sr.register_schema(customers, Schema(CUSTOMER, "AVRO")))
    refs = [SchemaReference("interop.Customer", customers, 1)]
    order_id = checks.call("register a schema with references",
                           lambda: sr.register_schema(orders, Schema(ORDER, "AVRO", refs)))
    order = checks.call("get_schema(id with references)", lambda: client().get_schema(order_id))
    if order is not None:
        checks.eq("get_schema: references",
                  [(r.name, r.subject, r.version) for r in order.references or []],
                  [("interop.Customer", customers, 1)])
    checks.eq("get_referenced_by", client().get_referenced_by(customers, 1), [order_id])
    checks.eq("get_referenced_by (latest)", client().get_referenced_by(customers), [order_id])
    checks.eq("get_referenced_by of an unreferenced version", client().get_referenced_by(orders, 1), [])
    checks.error("register with a reference to a missing version",
                 lambda: client().register_schema(orders, Schema(ORDER, "AVRO",
                                                                 [SchemaReference("interop.Customer", customers, 9)])),
                 422, 42201)
    checks.error("delete a referenced version", lambda: client().delete_version(customers, 1), 422, 42206)
    checks.ok("get_schema_types lists the three types",
              set(client().get_schema_types()) == {"AVRO", "JSON", "PROTOBUF"}, repr(client().get_schema_types()))
    checks.eq("get_subjects_by_schema_id", sorted(client().get_subjects_by_schema_id(id1)), sorted([users, copy]))
    versions_of_id1 = checks.call("get_schema_versions", lambda: client().get_schema_versions(id1)) or []
    checks.eq("get_schema_versions", sorted((v.subject, v.version) for v in versions_of_id1),
              sorted([(users, 1), (copy, 1)]))
    checks.error("get_subjects_by_schema_id of an unknown id",
                 lambda: client().get_subjects_by_schema_id(2_000_000_000), 404, 40403)
    checks.eq("get_global_mode", client().get_global_mode(), "READWRITE")
    checks.eq("get_contexts", client().get_contexts(), ["."])
    checks.ok("customer id differs from the order's", customer_id != order_id, f"{customer_id} vs {order_id}")

    # --- serializer / deserializer -------------------------------------------
    topic = prefix + "orders"
    serializer = AvroSerializer(client(), USER_V2, conf={"auto.register.schemas": True})
    ctx = SerializationContext(topic, MessageField.VALUE)
    data = checks.call("AvroSerializer", lambda: serializer({"name": "ada", "age": 36}, ctx))
    if data is not None:
        checks.eq("wire format: magic byte", data[0], 0)
        checks.eq("wire format: schema id", int.from_bytes(data[1:5], "big"), id2)
        value = checks.call("AvroDeserializer", lambda: AvroDeserializer(client())(data, ctx))
        checks.eq("round trip", value, {"name": "ada", "age": 36})
        reader = AvroDeserializer(client(), USER_V3)
        checks.eq("round trip into a newer reader schema",
                  checks.call("AvroDeserializer(v3)", lambda: reader(data, ctx)),
                  {"name": "ada", "age": 36, "tags": []})
    latest_serializer = AvroSerializer(client(), None,
                                       conf={"auto.register.schemas": False, "use.latest.version": True})
    data = checks.call("AvroSerializer(use.latest.version)",
                       lambda: latest_serializer({"name": "bob", "age": 7}, ctx))
    if data is not None:
        checks.eq("use.latest.version: schema id", int.from_bytes(data[1:5], "big"), id2)

    # --- deletes -------------------------------------------------------------
    checks.eq("delete_version (soft)", client().delete_version(users, 2), 2)
    checks.eq("versions after a soft delete", client().get_versions(users), [1])
    checks.eq("versions after a soft delete, deleted ones too", client().get_versions(users, deleted=True), [1, 2])
    deleted_v2 = checks.call("get_version(deleted=True)", lambda: client().get_version(users, 2, deleted=True))
    if deleted_v2 is not None:
        checks.eq("a soft-deleted version: id", deleted_v2.schema_id, id2)
    checks.error("get_version of a soft-deleted version", lambda: client().get_version(users, 2), 404, 40402)
    checks.ok("a soft-deleted version's id still resolves",
              checks.call("get_schema(soft-deleted id)", lambda: client().get_schema(id2)) is not None)
    checks.error("soft delete of a soft-deleted version", lambda: client().delete_version(users, 2), 404, 40406)
    checks.error("permanent delete of a live version",
                 lambda: client().delete_version(users, 1, permanent=True), 404, 40407)
    checks.eq("permanent delete of a soft-deleted version", client().delete_version(users, 2, permanent=True), 2)
    checks.error("permanent delete of a live subject", lambda: client().delete_subject(users, permanent=True),
                 404, 40405)
    checks.eq("delete_subject (soft)", client().delete_subject(users), [1])
    checks.error("versions of a soft-deleted subject", lambda: client().get_versions(users), 404, 40401)
    checks.error("soft delete of a soft-deleted subject", lambda: client().delete_subject(users), 404, 40404)
    checks.ok("get_subjects omits the deleted subject", users not in client().get_subjects(), "still listed")
    checks.ok("get_subjects(deleted=True) lists it", users in client().get_subjects(deleted=True), "not listed")
    checks.eq("delete_subject (permanent)", client().delete_subject(users, permanent=True), [1])
    checks.error("delete of a removed subject", lambda: client().delete_subject(users), 404, 40401)
    checks.ok("an id still used by another subject resolves",
              checks.call("get_schema(id shared with another subject)", lambda: client().get_schema(id1)) is not None)
    again = checks.call("register after a permanent delete",
                        lambda: client().register_schema_full_response(users, Schema(USER_V1, "AVRO")))
    if again is not None:
        checks.eq("register after a permanent delete: id", again.schema_id, id1)
        checks.eq("register after a permanent delete: version", again.version, 1)

    if global_before != "BACKWARD":
        sr.set_compatibility(level=global_before)

    if checks.failures:
        print(f"registry_interop: {len(checks.failures)} of {len(checks.failures) + checks.passed} checks "
              f"failed against {url} (confluent-kafka {confluent_kafka.version()}):", file=sys.stderr)
        for failure in checks.failures:
            print(f"  MISMATCH: {failure}", file=sys.stderr)
        return 1
    print(f"registry_interop: all {checks.passed} checks passed against {url} "
          f"(confluent-kafka {confluent_kafka.version()})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - report, do not hide, an unexpected failure
        import traceback

        traceback.print_exc()
        print(f"registry_interop: FAILED with an unexpected {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
