package meshkit.peers;

import java.io.IOException;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.util.Utf8;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * w1: stateless filter and enrich, Avro in and out (Confluent's wire format
 * and registry): cancelled orders are dropped, the others written as an
 * EnrichedOrder under the same key.
 */
final class W1FilterEnrich {
    static final Schema ENRICHED_ORDER = new Schema.Parser().parse("""
            {"type": "record", "name": "EnrichedOrder", "namespace": "bench",
             "fields": [{"name": "order_id", "type": "string"},
                        {"name": "customer", "type": "string"},
                        {"name": "amount_cents", "type": "long"},
                        {"name": "status", "type": "string"},
                        {"name": "amount_band", "type": "string"},
                        {"name": "priority", "type": "boolean"}]}""");

    private static final Utf8 CANCELLED = new Utf8("cancelled");
    private static final Utf8 PAID = new Utf8("paid");
    private static final Utf8 SMALL = new Utf8("small");
    private static final Utf8 MEDIUM = new Utf8("medium");
    private static final Utf8 LARGE = new Utf8("large");

    private W1FilterEnrich() {}

    static void build(StreamsBuilder builder, String input, String output, String registryUrl)
            throws IOException, InterruptedException {
        if (registryUrl.equals("-")) {
            throw new IllegalArgumentException("w1 needs a schema registry URL");
        }
        SchemaRegistry registry = new SchemaRegistry(registryUrl);
        // One serde both ways, as Confluent's GenericAvroSerde: it reads any
        // schema of the registry and writes EnrichedOrders.
        Serde<GenericRecord> avro = Serdes.serdeFrom(
                new ConfluentAvro.Writer(registry, output + "-value", ENRICHED_ORDER),
                new ConfluentAvro.Reader(registry));
        builder.stream(input, Consumed.with(Serdes.String(), avro))
                .filter((key, order) -> !is(order.get("status"), CANCELLED))
                .mapValues(W1FilterEnrich::enrich)
                .to(output, Produced.with(Serdes.String(), avro));
    }

    static GenericRecord enrich(GenericRecord order) {
        Object status = order.get("status");
        long amount = (Long) order.get("amount_cents");
        Utf8 band = amount < 1_000 ? SMALL : amount < 10_000 ? MEDIUM : LARGE;
        GenericData.Record out = new GenericData.Record(ENRICHED_ORDER);
        out.put(0, order.get("order_id"));
        out.put(1, order.get("customer"));
        out.put(2, amount);
        out.put(3, status);
        out.put(4, band);
        out.put(5, band == LARGE && is(status, PAID));
        return out;
    }

    /** Whether an Avro string (a {@link Utf8}, or any CharSequence) is `expected`. */
    private static boolean is(Object value, Utf8 expected) {
        return value instanceof Utf8 utf8 ? utf8.equals(expected) : expected.toString().contentEquals((CharSequence) value);
    }
}
