package meshkit.peers;

import java.util.Properties;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

/**
 * w2: a running sum per key in the default (RocksDB) store with its
 * changelog, every update emitted. Keys UTF-8 strings, values 8-byte
 * big-endian longs in and out.
 */
final class W2RunningSum {
    private W2RunningSum() {}

    /** The record cache off: every update reaches the output. */
    static void configure(Properties props) {
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
    }

    static void build(StreamsBuilder builder, String input, String output) {
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.Long()))
                .groupByKey(Grouped.with(Serdes.String(), Serdes.Long()))
                .reduce(Long::sum, Materialized.as("sums"))
                .toStream()
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
    }
}
