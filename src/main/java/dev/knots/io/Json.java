package dev.knots.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The JSON settings of the file formats: strict reading (duplicate keys and trailing content are
 * errors) and Python-like pretty printing ({@code json.dumps(indent=2, sort_keys=True)}), which is
 * how Hugging Face writes configs and indexes.
 */
public final class Json {

  private static final ObjectMapper MAPPER =
      JsonMapper.builder()
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
          .build();

  private static final ObjectWriter PRETTY = MAPPER.writer(pythonStylePrinter());

  private Json() {}

  /**
   * Parses a JSON document that must be an object.
   *
   * @param what how the document is named in messages, for example "adapter config
   *     /x/adapter_config.json"
   * @throws FileFormatException naming {@code what} if the text is not a JSON object
   */
  public static ObjectNode parseObject(byte[] utf8, String what) throws FileFormatException {
    JsonNode node;
    try {
      node = MAPPER.readTree(utf8);
    } catch (IOException e) {
      throw new FileFormatException(
          "Cannot parse " + what + ": invalid JSON: " + firstLine(e.getMessage()), e);
    }
    if (node == null || !node.isObject()) {
      throw new FileFormatException(
          "Cannot parse "
              + what
              + ": expected a JSON object, found "
              + (node == null ? "nothing" : node.getNodeType()));
    }
    return (ObjectNode) node;
  }

  /** A new empty object node. */
  public static ObjectNode object() {
    return JsonNodeFactory.instance.objectNode();
  }

  /** Compact JSON without spaces, keys in insertion order (the safetensors header style). */
  public static byte[] compact(JsonNode node) {
    try {
      return MAPPER.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("Cannot serialise JSON tree", e);
    }
  }

  /**
   * Pretty JSON as Python's {@code json.dumps(value, indent=2, sort_keys=True)} writes it, with a
   * final newline. Object keys are sorted recursively.
   */
  public static byte[] pretty(JsonNode node) {
    try {
      String text = PRETTY.writeValueAsString(sorted(node));
      return (text + "\n").getBytes(StandardCharsets.UTF_8);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("Cannot serialise JSON tree", e);
    }
  }

  private static JsonNode sorted(JsonNode node) {
    if (node.isObject()) {
      ObjectNode out = object();
      List<String> names = new ArrayList<>();
      node.properties().forEach(entry -> names.add(entry.getKey()));
      names.sort(null);
      for (String name : names) {
        out.set(name, sorted(node.get(name)));
      }
      return out;
    }
    if (node.isArray()) {
      ArrayNode out = JsonNodeFactory.instance.arrayNode();
      node.forEach(element -> out.add(sorted(element)));
      return out;
    }
    return node;
  }

  private static DefaultPrettyPrinter pythonStylePrinter() {
    Separators separators =
        Separators.createDefaultInstance()
            .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
            .withObjectEmptySeparator("")
            .withArrayEmptySeparator("");
    DefaultPrettyPrinter printer = new DefaultPrettyPrinter(separators);
    DefaultIndenter indenter = new DefaultIndenter("  ", "\n");
    printer.indentObjectsWith(indenter);
    printer.indentArraysWith(indenter);
    return printer;
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "";
    }
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }
}
