package meshkit.peers;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.avro.Schema;

/**
 * The two calls of Confluent Schema Registry's REST API that a Confluent
 * Avro serde makes: a writer schema by id, and registering (or looking up)
 * a schema under a subject.
 */
final class SchemaRegistry {
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String url;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    SchemaRegistry(String url) {
        this.url = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    /** {@code GET /schemas/ids/<id>}: the schema registered with `id`. */
    Schema schemaById(int id) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/schemas/ids/" + id))
                .header("Accept", CONTENT_TYPE)
                .timeout(Duration.ofSeconds(30))
                .GET()
                .build();
        JsonNode answer = send(request);
        JsonNode schema = answer.get("schema");
        if (schema == null || !schema.isTextual()) {
            throw new IOException("the registry's answer for schema id " + id + " has no schema: " + answer);
        }
        return new Schema.Parser().parse(schema.asText());
    }

    /**
     * {@code POST /subjects/<subject>/versions}: registers `schema` under
     * `subject` (or finds it registered already); returns its id.
     */
    int register(String subject, Schema schema) throws IOException, InterruptedException {
        String body = JSON.writeValueAsString(Map.of("schema", schema.toString()));
        HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/subjects/" + subject + "/versions"))
                .header("Content-Type", CONTENT_TYPE)
                .header("Accept", CONTENT_TYPE)
                .timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
        JsonNode answer = send(request);
        JsonNode id = answer.get("id");
        if (id == null || !id.canConvertToInt()) {
            throw new IOException("the registry's answer to registering under " + subject + " has no id: " + answer);
        }
        return id.asInt();
    }

    private JsonNode send(HttpRequest request) throws IOException, InterruptedException {
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IOException(request.method() + " " + request.uri() + ": " + e, e);
        }
        if (response.statusCode() / 100 != 2) {
            throw new IOException(request.method() + " " + request.uri() + ": HTTP " + response.statusCode()
                    + ": " + response.body());
        }
        return JSON.readTree(response.body());
    }
}
