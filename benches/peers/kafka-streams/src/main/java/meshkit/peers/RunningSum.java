package meshkit.peers;

import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

/**
 * Workload w2 of the peer benchmark: a running sum per key in a RocksDB
 * store, every update emitted (the record cache is off).
 *
 * <p>Arguments: bootstrap servers, input topic, output topic, application id,
 * processing guarantee (exactly_once_v2 or at_least_once), commit interval in
 * milliseconds, stream threads, state directory. Keys are UTF-8 strings,
 * values 8-byte big-endian longs. Runs until the harness stops the process.
 */
public final class RunningSum {
    public static void main(String[] args) throws InterruptedException {
        if (args.length != 8) {
            System.err.println("usage: RunningSum BOOTSTRAP INPUT OUTPUT APP_ID GUARANTEE COMMIT_MS THREADS STATE_DIR");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, args[3]);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, args[4]);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(args[5]));
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(args[6]));
        props.put(StreamsConfig.STATE_DIR_CONFIG, args[7]);
        // Every update is emitted, as the other contenders do.
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
        props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(args[1], Consumed.with(Serdes.String(), Serdes.Long()))
                .groupByKey()
                .reduce(Long::sum, Materialized.as("sums"))
                .toStream()
                .to(args[2], Produced.with(Serdes.String(), Serdes.Long()));

        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close(Duration.ofSeconds(10));
            stopped.countDown();
        }));
        streams.setStateListener((now, before) -> System.out.println("state " + before + " -> " + now));
        streams.start();
        stopped.await();
    }
}
