package dev.knots.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.io.FileFormatException;
import dev.knots.io.InputFile;
import dev.knots.io.LocalFileStore;
import dev.knots.io.RangeReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SafetensorsHeaderTest {

  private static final String TWO_FLOATS =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

  private final LocalFileStore store = new LocalFileStore();

  @TempDir Path tmp;

  @Test
  void readsBaseModelHeader() throws IOException {
    String file = Fixtures.path("base_model/model.safetensors");
    SafetensorsHeader header = SafetensorsHeader.read(store.inputFile(file));

    assertEquals(file, header.location());
    assertEquals(451320, header.fileLength());
    assertEquals(8 + 2800, header.dataOffset());
    assertEquals(Map.of("format", "pt"), header.metadata());
    assertEquals(29, header.tensors().size());
    assertEquals("embed_tokens.weight", header.tensors().get(0).name());
    TensorInfo k = header.require("layers.1.self_attn.k_proj.weight");
    assertEquals(DType.F32, k.dtype());
    assertEquals(32, k.rows());
    assertEquals(64, k.cols());
    assertEquals(32 * 64 * 4, k.byteLength());
    long position = 0;
    for (TensorInfo tensor : header.tensors()) {
      assertEquals(position, tensor.begin(), "tensors are in file order, contiguous");
      position = tensor.end();
    }
    assertEquals(header.fileLength() - header.dataOffset(), position);
  }

  static List<String> fixtureFiles() {
    List<String> files = new ArrayList<>();
    for (String task : Fixtures.TASKS) {
      files.add("adapters/" + task + "/adapter_model.safetensors");
      files.add("expected/deltas/" + task + ".safetensors");
    }
    files.add("expected/knots-ties_topk20_s0.6_adapter/adapter_model.safetensors");
    return files;
  }

  @ParameterizedTest
  @MethodSource("fixtureFiles")
  void readsEveryFixture(String relative) throws IOException {
    SafetensorsHeader header = SafetensorsHeader.read(store.inputFile(Fixtures.path(relative)));
    assertFalse(header.tensors().isEmpty());
    for (TensorInfo tensor : header.tensors()) {
      assertEquals(DType.F32, tensor.dtype());
      assertEquals(2, tensor.rank());
    }
  }

  @Test
  void readsOnlyTheHeaderBytes() throws IOException {
    String file = Fixtures.path("base_model/model.safetensors");
    List<long[]> reads = new ArrayList<>();
    SafetensorsHeader header = SafetensorsHeader.read(recording(store.inputFile(file), reads));
    assertEquals(2, reads.size());
    assertEquals(List.of("[0, 8]", "[8, 2800]"), reads.stream().map(Arrays::toString).toList());
    assertTrue(reads.get(1)[0] + reads.get(1)[1] == header.dataOffset());
  }

  @Test
  void acceptsIntegerScalarAndEmptyTensors() throws IOException {
    String json =
        "{\"__metadata__\":{\"k\":\"v\"},"
            + "\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
            + "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[16,16]},"
            + "\"flag\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[16,17]}}";
    SafetensorsHeader header = read(RawFiles.safetensors(json, 17));
    assertEquals(
        List.of("ids", "empty", "flag"), header.tensors().stream().map(TensorInfo::name).toList());
    assertEquals(0, header.require("empty").elementCount());
    assertEquals(1, header.require("flag").elementCount());
    assertEquals(Map.of("k", "v"), header.metadata());
  }

  @Test
  void ordersTensorsByOffsetNotByKey() throws IOException {
    String json =
        "{\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
            + "\"m\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    SafetensorsHeader header = read(RawFiles.safetensors(json, 12));
    assertEquals(List.of("z", "m", "a"), header.tensors().stream().map(TensorInfo::name).toList());
  }

  @Test
  void missingTensorIsNamed() throws IOException {
    SafetensorsHeader header = read(RawFiles.safetensors(TWO_FLOATS, 8));
    assertTrue(header.tensor("b").isEmpty());
    FileFormatException e = assertThrows(FileFormatException.class, () -> header.require("b"));
    assertEquals(
        "Cannot find tensor 'b' in "
            + header.location()
            + ": the file has 1 tensors, for example a.",
        e.getMessage());
  }

  @Test
  void truncatedBeforeHeaderLength() throws IOException {
    assertInvalid(
        new byte[] {1, 2, 3, 4, 5},
        "the file has only 5 bytes, fewer than the 8-byte header length;" + " it is truncated");
  }

  @Test
  void truncatedDataSection() throws IOException {
    byte[] whole = RawFiles.safetensors(TWO_FLOATS, 8);
    assertInvalid(
        Arrays.copyOf(whole, whole.length - 3),
        "tensor 'a' has data_offsets [0, 8] outside the data section of 5 bytes; the file is truncated");
  }

  @Test
  void headerLengthPastEndOfFile() throws IOException {
    byte[] bytes = RawFiles.safetensors(TWO_FLOATS, 8);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1000);
    assertInvalid(
        bytes, "the header length 1000 reaches past the end of the " + bytes.length + "-byte file");
  }

  @Test
  void headerLengthOverCap() throws IOException {
    byte[] bytes = RawFiles.safetensors(TWO_FLOATS, 8);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 100_000_001L);
    assertInvalid(bytes, "the header length 100000001 exceeds the limit of 100000000 bytes");
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L);
    assertInvalid(bytes, "the header length 18446744073709551615 exceeds the limit");
  }

  @Test
  void invalidJson() throws IOException {
    assertInvalid(
        RawFiles.safetensors("{\"a\": {\"dtype\": ", 0),
        "Cannot parse the header of safetensors file %s: not valid JSON at line 1, column 17: the"
            + " text ends before the JSON does; the file is truncated.");
    assertInvalid(
        RawFiles.safetensors("[1, 2]", 0),
        "Cannot parse the header of safetensors file %s: expected a JSON object, found an array.");
    assertInvalid(
        RawFiles.safetensors(TWO_FLOATS + " x", 8),
        "not valid JSON at line 1, column 56: unexpected 'x'.");
    assertInvalid(
        RawFiles.safetensors(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            8),
        "not valid JSON at line 1, column 58: the key \"a\" appears twice in one object.");
  }

  /** The JSON reader's limits are said in the file's terms, not as the reader's settings. */
  @Test
  void overlongStringInTheHeader() throws IOException {
    String huge = "x".repeat(20_000_001);
    assertInvalid(
        RawFiles.safetensors(
            "{\"__metadata__\":{\"note\":\"" + huge + "\"}," + TWO_FLOATS.substring(1), 8),
        "Cannot parse the header of safetensors file %s: it has a string longer than 20000000"
            + " characters.");
  }

  /** A tensor name that could steer the terminal is refused, shown escaped. */
  @Test
  void controlCharactersInATensorName() throws IOException {
    assertInvalid(
        RawFiles.safetensors(TWO_FLOATS.replace("\"a\"", "\"a\\u001b[31m\\nError: b\""), 8),
        "Cannot read safetensors file %s: tensor name 'a\\u001b[31m\\nError: b' has control"
            + " characters (shown escaped), which no model's tensor names have; the file is corrupt"
            + " or was not written by a model library.");
  }

  @Test
  void invalidUtf8() throws IOException {
    byte[] header = "{\"a\u00ff\":{}}".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    assertInvalid(RawFiles.safetensors(header, 0), "the header is not valid UTF-8");
  }

  @Test
  void entriesWithMissingOrWrongFields() throws IOException {
    assertInvalid(
        RawFiles.safetensors("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
        "tensor 'a' has no \"dtype\"");
    assertInvalid(
        RawFiles.safetensors("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8),
        "tensor 'a' has no \"shape\"");
    assertInvalid(
        RawFiles.safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8),
        "tensor 'a' has no \"data_offsets\"");
    assertInvalid(
        RawFiles.safetensors("{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
        "tensor 'a': \"dtype\" must be a string, found a number");
    assertInvalid(
        RawFiles.safetensors(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8),
        "\"shape\" of tensor 'a' must be an array of non-negative integers, found \"2\"");
    assertInvalid(
        RawFiles.safetensors(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8),
        "\"shape\" of tensor 'a' must be an array of non-negative integers");
    assertInvalid(
        RawFiles.safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8),
        "\"data_offsets\" of tensor 'a' must be an array of 2 non-negative integers, found [8]");
    assertInvalid(
        RawFiles.safetensors("{\"a\":[1]}", 0),
        "the entry of tensor 'a' must be an object, found an array");
    assertInvalid(
        RawFiles.safetensors("{\"__metadata__\":{\"n\":1}," + TWO_FLOATS.substring(1), 8),
        "\"__metadata__\" value of \"n\" must be a string, found a number");
  }

  @Test
  void negativeShape() throws IOException {
    assertInvalid(
        RawFiles.safetensors(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8),
        "\"shape\" of tensor 'a' must be an array of non-negative integers, found [-2]");
  }

  @Test
  void unknownDtype() throws IOException {
    assertInvalid(
        RawFiles.safetensors(
            "{\"a\":{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
        "Cannot read tensor 'a' of %s: unknown dtype \"F128\"");
  }

  @Test
  void byteLengthDisagreesWithShape() throws IOException {
    assertInvalid(
        RawFiles.safetensors(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12),
        "tensor 'a' has data_offsets [0, 12] (12 bytes), but shape [2, 2] of F32 needs 16 bytes");
  }

  @Test
  void offsetsOutOfRange() throws IOException {
    assertInvalid(
        RawFiles.safetensors(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 16),
        "tensor 'a' has data_offsets [8, 24] outside the data section of 16 bytes");
    assertInvalid(
        RawFiles.safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8),
        "tensor 'a' has data_offsets [8, 0] that end before they begin");
  }

  @Test
  void overlappingTensors() throws IOException {
    assertInvalid(
        RawFiles.safetensors(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            12),
        "tensors 'a' [0, 8] and 'b' [4, 12] overlap");
  }

  @Test
  void holeBetweenTensors() throws IOException {
    assertInvalid(
        RawFiles.safetensors(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
            20),
        "bytes [8, 12) of the data section, before tensor 'b', belong to no tensor (a hole)");
    assertInvalid(
        RawFiles.safetensors(
            "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
        "bytes [0, 4) of the data section, before tensor 'b'");
  }

  @Test
  void trailingBytesAfterLastTensor() throws IOException {
    assertInvalid(
        RawFiles.safetensors(TWO_FLOATS, 16),
        "the tensors cover 8 bytes, but the data section has 16 bytes; the last 8 bytes belong to no tensor");
  }

  private SafetensorsHeader read(byte[] bytes) throws IOException {
    return SafetensorsHeader.read(store.inputFile(RawFiles.write(tmp, "t.safetensors", bytes)));
  }

  /**
   * Asserts that reading fails with "Cannot read safetensors file LOCATION: " and {@code reason} in
   * the message.
   */
  private void assertInvalid(byte[] bytes, String reason) throws IOException {
    Path file = tmp.resolve("bad-" + Math.abs(Arrays.hashCode(bytes)) + ".safetensors");
    Files.write(file, bytes);
    FileFormatException e =
        assertThrows(
            FileFormatException.class,
            () -> SafetensorsHeader.read(store.inputFile(file.toString())));
    String expected = reason.contains("%s") ? String.format(reason, file) : reason;
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(
        e.getMessage().contains(expected),
        () -> "expected \"" + expected + "\" in: " + e.getMessage());
  }

  /** Records every (position, length) read through the file. */
  static InputFile recording(InputFile file, List<long[]> reads) {
    return new InputFile() {
      @Override
      public String location() {
        return file.location();
      }

      @Override
      public long length() throws IOException {
        return file.length();
      }

      @Override
      public RangeReader open() throws IOException {
        RangeReader reader = file.open();
        return new RangeReader() {
          @Override
          public void readFully(long position, byte[] buffer, int offset, int length)
              throws IOException {
            reads.add(new long[] {position, length});
            reader.readFully(position, buffer, offset, length);
          }

          @Override
          public void close() throws IOException {
            reader.close();
          }
        };
      }
    };
  }
}
