package meshkit.peers;

import java.time.Duration;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.Suppressed.BufferConfig;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.WindowStore;

/**
 * w3: a count per key per one-minute tumbling window of event time (the
 * record timestamps), no grace, in the default (RocksDB) window store with
 * its changelog; each window's final count only, once the partition's stream
 * time has passed the window's end. Output key {@code <key>@<window-start-ms>},
 * value the count as an 8-byte big-endian long, timestamp the window's end.
 */
final class W3WindowCount {
    private W3WindowCount() {}

    static void build(StreamsBuilder builder, String input, String output) {
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.Long()))
                .groupByKey(Grouped.with(Serdes.String(), Serdes.Long()))
                .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMinutes(1)))
                .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("counts")
                        .withKeySerde(Serdes.String())
                        .withValueSerde(Serdes.Long()))
                .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()).withName("final-counts"))
                .toStream()
                .process(WindowKey::new)
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
    }

    /**
     * The window's final count under key {@code <key>@<start>}, stamped with
     * the window's end (Kafka Streams would give it its latest input's).
     */
    private static final class WindowKey implements Processor<Windowed<String>, Long, String, Long> {
        private ProcessorContext<String, Long> context;

        @Override
        public void init(ProcessorContext<String, Long> context) {
            this.context = context;
        }

        @Override
        public void process(Record<Windowed<String>, Long> record) {
            Windowed<String> window = record.key();
            context.forward(new Record<>(
                    window.key() + "@" + window.window().start(),
                    record.value(),
                    window.window().end(),
                    record.headers()));
        }
    }
}
