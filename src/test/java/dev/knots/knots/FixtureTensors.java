package dev.knots.knots;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.knots.linalg.Matrix;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * TEMPORARY, test-only: a minimal safetensors reader for the fixture files under
 * {@code src/test/resources/fixtures}, written while the real reader (io/safetensors) is
 * developed in parallel. Replace its uses with that reader once it is merged, then delete this.
 * Format: 8-byte little-endian header length, JSON header, then little-endian tensor bytes;
 * only F32 and F64 are supported.
 */
final class FixtureTensors {

    /** One tensor, row-major values widened to double. */
    record Tensor(String dtype, int[] shape, double[] values) {

        /** The 2-D tensor as a matrix (row-major source). */
        Matrix matrix() {
            if (shape.length != 2) {
                throw new IllegalStateException("Cannot read a " + shape.length + "-D tensor as a matrix.");
            }
            return Matrix.fromRowMajor(shape[0], shape[1], values);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private FixtureTensors() {}

    /** Returns the fixture file at {@code fixtures/<relative>} on the test classpath. */
    static Path resource(String relative) {
        URL url = FixtureTensors.class.getResource("/fixtures/" + relative);
        if (url == null) {
            throw new IllegalStateException("Cannot find test fixture fixtures/" + relative + " on the classpath.");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("Cannot resolve test fixture " + url, e);
        }
    }

    /** Reads a JSON fixture. */
    static JsonNode json(String relative) {
        Path file = resource(relative);
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + file, e);
        }
    }

    /** Reads every tensor of a safetensors fixture, keyed by name in header order. */
    static Map<String, Tensor> read(String relative) {
        Path file = resource(relative);
        try {
            byte[] bytes = Files.readAllBytes(file);
            ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            int headerLength = Math.toIntExact(buffer.getLong(0));
            JsonNode header = JSON.readTree(bytes, 8, headerLength);
            int dataStart = 8 + headerLength;
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> entry : header.properties()) {
                if (!entry.getKey().equals("__metadata__")) {
                    tensors.put(entry.getKey(), tensor(entry.getValue(), buffer, dataStart));
                }
            }
            return tensors;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + file, e);
        }
    }

    private static Tensor tensor(JsonNode info, ByteBuffer buffer, int dataStart) {
        String dtype = info.get("dtype").asText();
        int[] shape = new int[info.get("shape").size()];
        for (int d = 0; d < shape.length; d++) {
            shape[d] = info.get("shape").get(d).asInt();
        }
        int begin = dataStart + info.get("data_offsets").get(0).asInt();
        int end = dataStart + info.get("data_offsets").get(1).asInt();
        int width = switch (dtype) {
            case "F32" -> 4;
            case "F64" -> 8;
            default -> throw new IllegalStateException("Cannot read dtype " + dtype + ": only F32 and F64.");
        };
        double[] values = new double[(end - begin) / width];
        for (int i = 0; i < values.length; i++) {
            int at = begin + i * width;
            values[i] = width == 4 ? buffer.getFloat(at) : buffer.getDouble(at);
        }
        return new Tensor(dtype, shape, values);
    }
}
