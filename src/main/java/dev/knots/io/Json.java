package dev.knots.io;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

  // The JSON reader's messages this class turns into the file's terms (see syntax()).
  private static final Pattern NON_NUMERIC = Pattern.compile("^Non-standard token '([^']*)'");
  private static final Pattern DUPLICATE_KEY = Pattern.compile("^Duplicate field '(.*)'$");
  private static final Pattern CONTROL_CHARACTER = Pattern.compile("\\(CTRL-CHAR, code (\\d+)\\)");
  private static final Pattern UNEXPECTED_CHARACTER =
      Pattern.compile("^Unexpected character \\(.* \\(code (\\d+)\\)\\)");
  private static final Pattern UNRECOGNIZED_TOKEN = Pattern.compile("^Unrecognized token '(.*)':");
  private static final Pattern ESCAPE = Pattern.compile("^Unrecognized character escape '(.)'");

  private Json() {}

  /**
   * Parses a JSON document that must be an object.
   *
   * @param what how the document is named in messages, for example "adapter config
   *     /x/adapter_config.json"
   * @throws FileFormatException naming {@code what} if the text is not a JSON object, saying what
   *     is wrong in the file's terms and where (line and column), never in the JSON reader's
   */
  public static ObjectNode parseObject(byte[] utf8, String what) throws FileFormatException {
    JsonNode node;
    try {
      node = MAPPER.readTree(utf8);
    } catch (StreamConstraintsException e) {
      throw new FileFormatException("Cannot parse " + what + ": it has " + tooLarge(e) + ".");
    } catch (JsonProcessingException e) {
      throw new FileFormatException(
          "Cannot parse " + what + ": not valid JSON" + at(e.getLocation()) + syntax(e) + ".");
    } catch (IOException e) {
      throw new FileFormatException("Cannot parse " + what + ": " + e.getMessage(), e);
    }
    if (node == null || node.isMissingNode()) {
      throw new FileFormatException("Cannot parse " + what + ": the file is empty.");
    }
    if (!node.isObject()) {
      throw new FileFormatException(
          "Cannot parse " + what + ": expected a JSON object, found " + kind(node) + ".");
    }
    return (ObjectNode) node;
  }

  /** What a node is, as messages name it: "an object", "a string", "null" and so on. */
  public static String kind(JsonNode node) {
    return switch (node.getNodeType()) {
      case OBJECT, POJO -> "an object";
      case ARRAY -> "an array";
      case STRING, BINARY -> "a string";
      case NUMBER -> "a number";
      case BOOLEAN -> node.booleanValue() ? "true" : "false";
      case NULL, MISSING -> "null";
    };
  }

  /** " at line L, column C", or nothing when the position is unknown. */
  private static String at(JsonLocation location) {
    if (location == null || location.getLineNr() < 1) {
      return "";
    }
    return " at line " + location.getLineNr() + ", column " + location.getColumnNr();
  }

  /**
   * ": " and what is wrong, from the reader's message (which names its own settings and classes),
   * or nothing when the message is not one of those known here: the position says where to look.
   */
  private static String syntax(JsonProcessingException e) {
    String message = e.getOriginalMessage() == null ? "" : e.getOriginalMessage();
    Matcher m;
    if ((m = NON_NUMERIC.matcher(message)).find()) {
      return ": "
          + Locations.printable(m.group(1))
          + " is not a JSON number; JSON has no NaN or Infinity, write a finite number";
    }
    if ((m = DUPLICATE_KEY.matcher(message)).find()) {
      return ": the key \"" + Locations.printable(m.group(1)) + "\" appears twice in one object";
    }
    if (message.startsWith("Trailing token")) {
      return ": more text follows the end of the JSON object";
    }
    if (message.startsWith("Unexpected end-of-input")) {
      return ": the text ends before the JSON does; the file is truncated";
    }
    if ((m = CONTROL_CHARACTER.matcher(message)).find()) {
      return ": control character "
          + quoted(Character.toString(Integer.parseInt(m.group(1))))
          + (message.contains("string value")
              ? " inside a string; JSON needs it escaped"
              : " outside any string");
    }
    if ((m = UNEXPECTED_CHARACTER.matcher(message)).find()) {
      return ": unexpected " + quoted(Character.toString(Integer.parseInt(m.group(1))));
    }
    if ((m = UNRECOGNIZED_TOKEN.matcher(message)).find()) {
      return ": unexpected " + quoted(m.group(1));
    }
    if (message.contains("Leading zeroes")) {
      return ": a number with a leading zero";
    }
    if ((m = ESCAPE.matcher(message)).find()) {
      return ": \\" + Locations.printable(m.group(1)) + " is not a JSON escape";
    }
    if (message.contains("UTF-8") || message.contains("UTF8")) {
      return ": bytes that are not UTF-8 text";
    }
    return "";
  }

  /** What exceeds one of the reader's limits, with the limit. */
  private static String tooLarge(StreamConstraintsException e) {
    StreamReadConstraints limits = StreamReadConstraints.defaults();
    String message = e.getMessage() == null ? "" : e.getMessage();
    if (message.startsWith("String value length")) {
      return "a string longer than " + limits.getMaxStringLength() + " characters";
    }
    if (message.startsWith("Name length")) {
      return "a key longer than " + limits.getMaxNameLength() + " characters";
    }
    if (message.startsWith("Number value length")) {
      return "a number longer than " + limits.getMaxNumberLength() + " digits";
    }
    if (message.startsWith("Document nesting depth")) {
      return "objects and arrays nested deeper than " + limits.getMaxNestingDepth() + " levels";
    }
    return "more JSON than this program reads in one document";
  }

  /** A short piece of the file in quotes, escaped so that it cannot steer the terminal. */
  private static String quoted(String piece) {
    String text = Locations.printable(piece.length() > 40 ? piece.substring(0, 40) + "..." : piece);
    return piece.equals("'") ? "\"'\"" : "'" + text + "'";
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
}
