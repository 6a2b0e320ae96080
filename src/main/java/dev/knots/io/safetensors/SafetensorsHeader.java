package dev.knots.io.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.FileFormatException;
import dev.knots.io.InputFile;
import dev.knots.io.Json;
import dev.knots.io.Locations;
import dev.knots.io.RangeReader;
import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The validated header of a safetensors file.
 *
 * <p>Layout: an unsigned little-endian 64-bit header length {@code N}, then {@code N} bytes of
 * UTF-8 JSON, then the data section. The JSON object maps each tensor name to {@code {"dtype":
 * "F32", "shape": [rows, cols], "data_offsets": [begin, end]}} with offsets relative to the data
 * section, plus an optional {@code "__metadata__"} string-to-string map. Validation follows the
 * reference implementation: the tensors, ordered by offset, must cover the data section exactly,
 * without overlaps, holes or trailing bytes.
 */
public final class SafetensorsHeader implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The header key of the string-to-string metadata map. */
  public static final String METADATA_KEY = "__metadata__";

  /** Largest accepted header, in bytes, as in the reference implementation. */
  public static final long MAX_HEADER_BYTES = 100_000_000L;

  private final String location;
  private final long fileLength;
  private final long dataOffset;
  private final List<TensorInfo> tensors;
  private final Map<String, TensorInfo> byName;
  private final Map<String, String> metadata;

  private SafetensorsHeader(
      String location,
      long fileLength,
      long dataOffset,
      List<TensorInfo> tensors,
      Map<String, String> metadata) {
    this.location = location;
    this.fileLength = fileLength;
    this.dataOffset = dataOffset;
    this.tensors = Collections.unmodifiableList(new ArrayList<>(tensors));
    Map<String, TensorInfo> names = new LinkedHashMap<>();
    tensors.forEach(t -> names.put(t.name(), t));
    this.byName = Collections.unmodifiableMap(names);
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
  }

  /**
   * The same header with only the named tensors (offsets unchanged): small enough to ship to the
   * task that reads them, which then needs no request for metadata of its own.
   *
   * @throws FileFormatException if a name is not in the file
   */
  public SafetensorsHeader restrictedTo(Collection<String> names) throws FileFormatException {
    List<TensorInfo> kept = new ArrayList<>();
    for (String name : names) {
      kept.add(require(name));
    }
    kept.sort(Comparator.comparingLong(TensorInfo::begin));
    return new SafetensorsHeader(location, fileLength, dataOffset, kept, metadata);
  }

  /**
   * Reads and validates the header of {@code file}, reading only its first {@code 8 + N} bytes.
   *
   * @throws FileFormatException naming the file (and tensor) if the file is not a valid safetensors
   *     file
   * @throws IOException naming the file if it cannot be read
   */
  public static SafetensorsHeader read(InputFile file) throws IOException {
    String location = file.location();
    long fileLength = file.length();
    if (fileLength < 8) {
      throw invalid(
          location,
          "the file has only "
              + fileLength
              + " bytes, fewer than the 8-byte header length; it is truncated or not a safetensors file");
    }
    try (RangeReader reader = file.open()) {
      byte[] prefix = new byte[8];
      reader.readFully(0, prefix, 0, 8);
      long headerLength = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
      if (Long.compareUnsigned(headerLength, MAX_HEADER_BYTES) > 0) {
        throw invalid(
            location,
            "the header length "
                + Long.toUnsignedString(headerLength)
                + " exceeds the limit of "
                + MAX_HEADER_BYTES
                + " bytes; the file is corrupt or not a safetensors file");
      }
      if (headerLength > fileLength - 8) {
        throw invalid(
            location,
            "the header length "
                + headerLength
                + " reaches past the end of the "
                + fileLength
                + "-byte file; it is truncated or not a safetensors file");
      }
      byte[] header = new byte[(int) headerLength];
      reader.readFully(8, header, 0, header.length);
      return parse(location, fileLength, header);
    }
  }

  /**
   * Validates header bytes (the {@code N} bytes after the length) of a file of {@code fileLength}
   * bytes.
   */
  static SafetensorsHeader parse(String location, long fileLength, byte[] header)
      throws FileFormatException {
    try {
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(header));
    } catch (CharacterCodingException e) {
      throw invalid(location, "the header is not valid UTF-8");
    }
    ObjectNode json = Json.parseObject(header, "the header of safetensors file " + location);
    long dataLength = fileLength - 8 - header.length;
    Map<String, String> metadata = new LinkedHashMap<>();
    List<TensorInfo> tensors = new ArrayList<>();
    for (Map.Entry<String, JsonNode> entry : json.properties()) {
      if (entry.getKey().equals(METADATA_KEY)) {
        readMetadata(location, entry.getValue(), metadata);
      } else {
        requirePrintable(location, entry.getKey());
        TensorInfo tensor = readTensor(location, entry.getKey(), entry.getValue());
        if (tensor.end() > dataLength) {
          throw invalid(
              location,
              "tensor '"
                  + tensor.name()
                  + "' has data_offsets ["
                  + tensor.begin()
                  + ", "
                  + tensor.end()
                  + "] outside the data section of "
                  + dataLength
                  + " bytes; the file is truncated or its header is corrupt");
        }
        tensors.add(tensor);
      }
    }
    tensors.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
    checkCoverage(location, tensors, dataLength);
    return new SafetensorsHeader(location, fileLength, 8L + header.length, tensors, metadata);
  }

  /** The file this header was read from. */
  public String location() {
    return location;
  }

  /** Length of the whole file in bytes. */
  public long fileLength() {
    return fileLength;
  }

  /**
   * Absolute position of the data section: {@code 8 + N}. A tensor's bytes start at {@code
   * dataOffset() + begin}.
   */
  public long dataOffset() {
    return dataOffset;
  }

  /** All tensors, in the order of their bytes in the file. */
  public List<TensorInfo> tensors() {
    return tensors;
  }

  /** The tensor named {@code name}, if present. */
  public Optional<TensorInfo> tensor(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  /**
   * The tensor named {@code name}.
   *
   * @throws FileFormatException naming the tensor and the file if there is no such tensor
   */
  public TensorInfo require(String name) throws FileFormatException {
    TensorInfo tensor = byName.get(name);
    if (tensor == null) {
      List<String> some = new ArrayList<>(byName.keySet()).subList(0, Math.min(3, byName.size()));
      throw new FileFormatException(
          "Cannot find tensor '"
              + name
              + "' in "
              + location
              + ": the file has "
              + byName.size()
              + " tensors"
              + (some.isEmpty() ? "" : ", for example " + String.join(", ", some))
              + ".");
    }
    return tensor;
  }

  /** The {@code __metadata__} map (empty if absent). */
  public Map<String, String> metadata() {
    return metadata;
  }

  private static void readMetadata(String location, JsonNode node, Map<String, String> into)
      throws FileFormatException {
    if (!node.isObject()) {
      throw invalid(
          location, "\"__metadata__\" must be an object of strings, found " + Json.kind(node));
    }
    for (Map.Entry<String, JsonNode> entry : node.properties()) {
      if (!entry.getValue().isTextual()) {
        throw invalid(
            location,
            "\"__metadata__\" value of \""
                + entry.getKey()
                + "\" must be a string, found "
                + Json.kind(entry.getValue()));
      }
      into.put(entry.getKey(), entry.getValue().textValue());
    }
  }

  /**
   * Refuses a tensor name with control characters: no model has one, and every message and plan
   * line that names the tensor would carry it to the user's terminal.
   */
  private static void requirePrintable(String location, String name) throws FileFormatException {
    String shown = Locations.printable(name);
    if (!shown.equals(name)) {
      throw invalid(
          location,
          "tensor name '"
              + shown
              + "' has control characters (shown escaped), which no model's tensor names have;"
              + " the file is corrupt or was not written by a model library");
    }
  }

  private static TensorInfo readTensor(String location, String name, JsonNode node)
      throws FileFormatException {
    if (!node.isObject()) {
      throw invalid(
          location,
          "the entry of tensor '" + name + "' must be an object, found " + Json.kind(node));
    }
    JsonNode dtypeNode = field(location, name, node, "dtype");
    if (!dtypeNode.isTextual()) {
      throw invalid(
          location,
          "tensor '" + name + "': \"dtype\" must be a string, found " + Json.kind(dtypeNode));
    }
    DType dtype = DType.parse(dtypeNode.textValue(), name, location);
    long[] shape = longs(location, name, field(location, name, node, "shape"), "shape", -1);
    long[] offsets =
        longs(location, name, field(location, name, node, "data_offsets"), "data_offsets", 2);
    if (offsets[0] > offsets[1]) {
      throw invalid(
          location,
          "tensor '"
              + name
              + "' has data_offsets ["
              + offsets[0]
              + ", "
              + offsets[1]
              + "] that end before they begin");
    }
    long expected;
    try {
      expected = Math.multiplyExact(TensorInfo.elementCount(shape), dtype.byteSize());
    } catch (ArithmeticException e) {
      throw invalid(location, "tensor '" + name + "' has a shape too large to address");
    }
    TensorInfo tensor = new TensorInfo(name, dtype, shape, offsets[0], offsets[1]);
    if (tensor.byteLength() != expected) {
      throw invalid(
          location,
          "tensor '"
              + name
              + "' has data_offsets ["
              + offsets[0]
              + ", "
              + offsets[1]
              + "] ("
              + tensor.byteLength()
              + " bytes), but shape "
              + tensor.shapeText()
              + " of "
              + dtype
              + " needs "
              + expected
              + " bytes");
    }
    return tensor;
  }

  private static JsonNode field(String location, String name, JsonNode node, String key)
      throws FileFormatException {
    JsonNode value = node.get(key);
    if (value == null) {
      throw invalid(location, "tensor '" + name + "' has no \"" + key + "\"");
    }
    return value;
  }

  /** Non-negative integers of a JSON array; {@code size < 0} accepts any length. */
  private static long[] longs(String location, String name, JsonNode node, String key, int size)
      throws FileFormatException {
    String wanted =
        "\""
            + key
            + "\" of tensor '"
            + name
            + "' must be "
            + (size < 0 ? "an array of" : "an array of " + size)
            + " non-negative integers, found ";
    if (!node.isArray() || (size >= 0 && node.size() != size)) {
      throw invalid(location, wanted + node);
    }
    long[] values = new long[node.size()];
    for (int i = 0; i < values.length; i++) {
      JsonNode element = node.get(i);
      if (!element.isIntegralNumber() || !element.canConvertToLong() || element.longValue() < 0) {
        throw invalid(location, wanted + node);
      }
      values[i] = element.longValue();
    }
    return values;
  }

  private static void checkCoverage(String location, List<TensorInfo> sorted, long dataLength)
      throws FileFormatException {
    long expected = 0;
    TensorInfo previous = null;
    for (TensorInfo tensor : sorted) {
      if (tensor.begin() < expected) {
        throw invalid(
            location,
            "tensors '"
                + previous.name()
                + "' ["
                + previous.begin()
                + ", "
                + previous.end()
                + "] and '"
                + tensor.name()
                + "' ["
                + tensor.begin()
                + ", "
                + tensor.end()
                + "] overlap");
      }
      if (tensor.begin() > expected) {
        throw invalid(
            location,
            "bytes ["
                + expected
                + ", "
                + tensor.begin()
                + ") of the data section, before tensor '"
                + tensor.name()
                + "', belong to no tensor (a hole); the header is corrupt");
      }
      expected = tensor.end();
      previous = tensor;
    }
    if (expected != dataLength) {
      throw invalid(
          location,
          "the tensors cover "
              + expected
              + " bytes, but the data section has "
              + dataLength
              + " bytes; the last "
              + (dataLength - expected)
              + " bytes belong to no tensor");
    }
  }

  private static FileFormatException invalid(String location, String reason) {
    return new FileFormatException(
        "Cannot read safetensors file " + location + ": " + reason + ".");
  }

  @Override
  public String toString() {
    return "SafetensorsHeader[" + location + ", " + tensors.size() + " tensors]";
  }
}
