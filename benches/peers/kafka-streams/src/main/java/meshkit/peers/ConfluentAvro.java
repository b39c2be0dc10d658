package meshkit.peers;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Avro in Confluent's wire format (magic byte 0, 4-byte big-endian schema
 * id, Avro binary) as {@link GenericRecord}s, with a Confluent-compatible
 * registry: what Confluent's KafkaAvroSerializer and KafkaAvroDeserializer
 * do for generic records (they are not on Maven Central).
 */
final class ConfluentAvro {
    private static final byte MAGIC = 0;
    private static final int HEADER = 5;

    private ConfluentAvro() {}

    /**
     * Reads values written with any schema of the registry: the writer
     * schema is fetched once per id, and records are read with it.
     */
    static final class Reader implements Deserializer<GenericRecord> {
        private final SchemaRegistry registry;
        private final ConcurrentHashMap<Integer, GenericDatumReader<GenericRecord>> readers = new ConcurrentHashMap<>();
        /** Stream threads share the deserializer; each reuses its own decoder. */
        private final ThreadLocal<BinaryDecoder> decoders = new ThreadLocal<>();

        Reader(SchemaRegistry registry) {
            this.registry = registry;
        }

        @Override
        public GenericRecord deserialize(String topic, byte[] data) {
            if (data == null) {
                return null;
            }
            if (data.length < HEADER || data[0] != MAGIC) {
                throw new SerializationException("not Confluent's Avro wire format (" + data.length + " bytes)");
            }
            int id = ((data[1] & 0xff) << 24) | ((data[2] & 0xff) << 16) | ((data[3] & 0xff) << 8) | (data[4] & 0xff);
            GenericDatumReader<GenericRecord> reader = readers.computeIfAbsent(id, this::fetch);
            BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(data, HEADER, data.length - HEADER, decoders.get());
            decoders.set(decoder);
            try {
                return reader.read(null, decoder);
            } catch (IOException | RuntimeException e) {
                throw new SerializationException("reading an Avro record of schema id " + id, e);
            }
        }

        private GenericDatumReader<GenericRecord> fetch(int id) {
            try {
                return new GenericDatumReader<>(registry.schemaById(id));
            } catch (IOException e) {
                throw new SerializationException("fetching schema id " + id + " from the registry", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SerializationException("fetching schema id " + id + " from the registry", e);
            }
        }
    }

    /** Writes records of one schema, registered (or found) under a subject at start. */
    static final class Writer implements Serializer<GenericRecord> {
        private final GenericDatumWriter<GenericRecord> writer;
        private final byte[] header;
        private final ThreadLocal<Buffer> buffers = ThreadLocal.withInitial(Buffer::new);

        Writer(SchemaRegistry registry, String subject, Schema schema) throws IOException, InterruptedException {
            int id = registry.register(subject, schema);
            this.writer = new GenericDatumWriter<>(schema);
            this.header = new byte[] {MAGIC, (byte) (id >>> 24), (byte) (id >>> 16), (byte) (id >>> 8), (byte) id};
        }

        @Override
        public byte[] serialize(String topic, GenericRecord record) {
            if (record == null) {
                return null;
            }
            Buffer buffer = buffers.get();
            buffer.bytes.reset();
            buffer.bytes.write(header, 0, HEADER);
            try {
                buffer.encoder = EncoderFactory.get().binaryEncoder(buffer.bytes, buffer.encoder);
                writer.write(record, buffer.encoder);
                buffer.encoder.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return buffer.bytes.toByteArray();
        }

        /** A thread's output buffer and encoder, reused record after record. */
        private static final class Buffer {
            final ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
            BinaryEncoder encoder;
        }
    }
}
