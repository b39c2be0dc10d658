package meshkit.peers;

import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

/**
 * The Kafka Streams contender of the peer benchmark: runs one of its
 * workloads (benches/peers/README.md) until SIGTERM.
 *
 * <p>Arguments, as the README gives them: workload ({@code w1}, {@code w2},
 * {@code w3}), bootstrap servers, input topic, output topic, application id,
 * guarantee ({@code exactly_once} or {@code at_least_once}), commit interval
 * in milliseconds, stream threads, state directory, schema registry URL
 * ({@code -} when the workload needs none). Prints nothing on stdout; errors
 * go to stderr.
 */
public final class Peer {
    private static final String USAGE = "usage: Peer <workload> <brokers> <input-topic> <output-topic> <application-id>"
            + " <guarantee> <commit-ms> <threads> <state-dir> <registry-url>";

    private Peer() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 10) {
            fail(USAGE);
        }
        String workload = args[0];
        String brokers = args[1];
        String input = args[2];
        String output = args[3];
        String applicationId = args[4];
        String guarantee = switch (args[5]) {
            case "exactly_once" -> StreamsConfig.EXACTLY_ONCE_V2;
            case "at_least_once" -> StreamsConfig.AT_LEAST_ONCE;
            default -> fail("guarantee: exactly_once or at_least_once, not `" + args[5] + "`\n" + USAGE);
        };
        long commitMs = Long.parseLong(args[6]);
        int threads = Integer.parseInt(args[7]);
        String stateDir = args[8];
        String registryUrl = args[9];

        Properties props = new Properties();
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitMs);
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        props.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        // Every contender reads committed input only; exactly_once_v2 sets
        // this itself, at_least_once would read uncommitted records.
        props.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.ISOLATION_LEVEL_CONFIG), "read_committed");

        switch (workload) {
            case "w1" -> {}
            case "w2" -> W2RunningSum.configure(props);
            case "w3" -> {}
            default -> fail("workload: w1, w2 or w3, not `" + workload + "`\n" + USAGE);
        }
        StreamsBuilder builder = new StreamsBuilder(new TopologyConfig(new StreamsConfig(props)));
        switch (workload) {
            case "w1" -> W1FilterEnrich.build(builder, input, output, registryUrl);
            case "w2" -> W2RunningSum.build(builder, input, output);
            default -> W3WindowCount.build(builder, input, output);
        }
        Topology topology = builder.build(props);

        KafkaStreams streams = new KafkaStreams(topology, props);
        CountDownLatch failed = new CountDownLatch(1);
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("peer: a stream thread failed:");
            e.printStackTrace();
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.ERROR) {
                failed.countDown();
            }
        });
        // SIGTERM: a clean close (commits what was processed, closes the stores).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> streams.close(Duration.ofSeconds(15)), "peer-shutdown"));
        streams.start();
        failed.await();
        System.err.println("peer: Kafka Streams stopped on an error");
        System.exit(1);
    }

    private static <T> T fail(String message) {
        System.err.println(message);
        System.exit(2);
        throw new AssertionError();
    }
}
