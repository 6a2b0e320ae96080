package dev.knots.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.io.InputFile;
import dev.knots.io.LocalFileStore;
import dev.knots.io.OutputFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SafetensorsWriterTest {

  private final LocalFileStore store = new LocalFileStore();

  @TempDir Path tmp;

  /** Values exactly representable in every writable dtype, so the round trip is exact. */
  private static final double[] EXACT = {1.0, -2.5, 0.0, 0.375, 1024.0, -0.0078125};

  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"F64", "F32", "F16", "BF16"})
  void roundTripsEveryWritableDtype(DType dtype) throws IOException {
    OutputFile out = store.outputFile(tmp.resolve("t.safetensors").toString());
    List<TensorSpec> layout =
        List.of(TensorSpec.matrix("m", dtype, 2, 3), new TensorSpec("v", dtype, new long[] {1}));
    try (SafetensorsWriter writer = SafetensorsWriter.open(out, layout, Map.of())) {
      writer.write("m", EXACT);
      writer.write("v", new double[] {1.0 / 3});
    }
    InputFile in = store.inputFile(out.location());
    SafetensorsHeader header = SafetensorsHeader.read(in);
    assertEquals(dtype, header.require("m").dtype());
    assertArrayEquals(new long[] {2, 3}, header.require("m").shape());
    try (SafetensorsReader reader = new SafetensorsReader(in, header)) {
      assertArrayEquals(EXACT, reader.readDoubles("m"));
      double third = reader.readDoubles("v")[0];
      double expected =
          switch (dtype) {
            case F64 -> 1.0 / 3;
            case F32 -> (float) (1.0 / 3);
            case F16 -> 0.333251953125;
            default -> 0.333984375;
          };
      assertEquals(expected, third);
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = DType.class,
      names = {"F64", "F32", "F16", "BF16"})
  void writesColumnMajorMatricesRowMajorAcrossTiles(DType dtype) throws IOException {
    // 70 spans three 32-wide tiles; the tall and the wide shape take different loop orders
    int[][] shapes = {{70, 5}, {5, 70}, {70, 70}, {33, 32}, {1, 1}};
    List<TensorSpec> layout = new ArrayList<>();
    for (int[] shape : shapes) {
      layout.add(TensorSpec.matrix(shape[0] + "x" + shape[1], dtype, shape[0], shape[1]));
    }
    OutputFile out = store.outputFile(tmp.resolve("cm.safetensors").toString());
    try (SafetensorsWriter writer = SafetensorsWriter.open(out, layout, Map.of())) {
      for (int[] shape : shapes) {
        writer.writeColumnMajor(shape[0] + "x" + shape[1], columnMajor(shape[0], shape[1]));
      }
    }
    InputFile in = store.inputFile(out.location());
    try (SafetensorsReader reader = new SafetensorsReader(in, SafetensorsHeader.read(in))) {
      for (int[] shape : shapes) {
        double[] rowMajor = reader.readDoubles(shape[0] + "x" + shape[1]);
        for (int i = 0; i < shape[0]; i++) {
          for (int j = 0; j < shape[1]; j++) {
            assertEquals(entry(i, j), rowMajor[i * shape[1] + j], shape[0] + "x" + shape[1]);
          }
        }
      }
    }
  }

  /** Entry (i, j) of the test matrices: distinct, and exact in every writable dtype. */
  private static double entry(int i, int j) {
    return ((i * 71 + j) % 256) * 0.5;
  }

  private static double[] columnMajor(int rows, int cols) {
    double[] values = new double[rows * cols];
    for (int j = 0; j < cols; j++) {
      for (int i = 0; i < rows; i++) {
        values[i + j * rows] = entry(i, j);
      }
    }
    return values;
  }

  @Test
  void writeColumnMajorRefusesVectorsAndWrongLengths() throws IOException {
    OutputFile out = store.outputFile(tmp.resolve("cmv.safetensors").toString());
    List<TensorSpec> layout =
        List.of(
            new TensorSpec("v", DType.F32, new long[] {4}),
            TensorSpec.matrix("m", DType.F32, 2, 2));
    try (SafetensorsWriter writer = SafetensorsWriter.open(out, layout, Map.of())) {
      IllegalStateException vector =
          assertThrows(IllegalStateException.class, () -> writer.writeColumnMajor("v", EXACT));
      assertTrue(vector.getMessage().contains("is not a matrix"), vector.getMessage());
      writer.write("v", new double[4]);
      assertThrows(IllegalStateException.class, () -> writer.writeColumnMajor("m", EXACT));
      writer.writeColumnMajor("m", new double[4]);
    }
  }

  @Test
  void standardLayoutPaddedHeaderAndMetadata() throws IOException {
    Path file = tmp.resolve("layout.safetensors");
    List<TensorSpec> layout =
        List.of(
            TensorSpec.matrix("b.weight", DType.F32, 2, 2),
            new TensorSpec("a", DType.F16, new long[] {3}),
            TensorSpec.matrix("c", DType.BF16, 1, 1));
    Map<String, String> extra = new LinkedHashMap<>();
    extra.put("source", "test");
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(store.outputFile(file.toString()), layout, extra)) {
      writer.write("b.weight", new double[] {1, 2, 3, 4});
      writer.write("a", new double[] {1, 2, 3});
      writer.write("c", new double[] {5});
    }
    byte[] bytes = Files.readAllBytes(file);
    long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, n % 8, "header length is a multiple of 8");
    String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
    assertTrue(
        header.startsWith(
            "{\"__metadata__\":{\"format\":\"pt\",\"source\":\"test\"},"
                + "\"b.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                + "\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
                + "\"c\":{\"dtype\":\"BF16\",\"shape\":[1,1],\"data_offsets\":[22,24]}}"),
        header);
    assertTrue(header.matches("(?s)\\{.*\\} *"), "padded with spaces: [" + header + "]");
    assertEquals(8 + n + 24, bytes.length);

    SafetensorsHeader read = SafetensorsHeader.read(store.inputFile(file.toString()));
    assertEquals(Map.of("format", "pt", "source", "test"), read.metadata());
    assertEquals(
        List.of("b.weight", "a", "c"), read.tensors().stream().map(TensorInfo::name).toList());
  }

  @Test
  void writesInPartsAndRaw() throws IOException {
    Path file = tmp.resolve("parts.safetensors");
    List<TensorSpec> layout =
        List.of(
            TensorSpec.matrix("big", DType.F32, 3, 2),
            new TensorSpec("ids", DType.I64, new long[] {1}));
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(store.outputFile(file.toString()), layout, Map.of())) {
      writer.writePart("big", new double[] {1, 2});
      writer.writePart("big", new double[] {3, 4, 5, 6});
      writer.writeRaw(
          "ids", ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(7).array());
    }
    InputFile in = store.inputFile(file.toString());
    try (SafetensorsReader reader = new SafetensorsReader(in, SafetensorsHeader.read(in))) {
      assertArrayEquals(new double[] {1, 2, 3, 4, 5, 6}, reader.readDoubles("big"));
      assertEquals(
          7, ByteBuffer.wrap(reader.readRaw("ids")).order(ByteOrder.LITTLE_ENDIAN).getLong());
    }
  }

  @Test
  void copiesTensorsOfTwoFilesThroughABufferSmallerThanATensor() throws IOException {
    // Two "parts" of one file, as the job's layers write them, each in its own layout order.
    double[] first = {1, -2, 3, -4, 5, -6, 7, -8, 9};
    double[] second = {0.5, 0.25};
    double[] third = {-1, 10, -100, 1000};
    Path partA = tmp.resolve("a.safetensors");
    Path partB = tmp.resolve("b.safetensors");
    write(partA, List.of(TensorSpec.matrix("a.x", DType.F32, 3, 3)), List.of(first));
    write(
        partB,
        List.of(
            TensorSpec.matrix("b.x", DType.F32, 1, 2), TensorSpec.matrix("b.y", DType.F32, 2, 2)),
        List.of(second, third));
    Path whole = tmp.resolve("whole.safetensors");
    List<TensorSpec> layout =
        List.of(
            TensorSpec.matrix("a.x", DType.F32, 3, 3),
            TensorSpec.matrix("b.x", DType.F32, 1, 2),
            TensorSpec.matrix("b.y", DType.F32, 2, 2));
    byte[] buffer = new byte[8]; // two floats: every tensor takes several reads and writes
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(store.outputFile(whole.toString()), layout, Map.of())) {
      for (Path part : List.of(partA, partB)) {
        InputFile in = store.inputFile(part.toString());
        try (SafetensorsReader reader = new SafetensorsReader(in, SafetensorsHeader.read(in))) {
          writer.copyTensors(reader, buffer);
        }
      }
    }
    InputFile in = store.inputFile(whole.toString());
    try (SafetensorsReader reader = new SafetensorsReader(in, SafetensorsHeader.read(in))) {
      assertArrayEquals(first, reader.readDoubles("a.x"));
      assertArrayEquals(second, reader.readDoubles("b.x"));
      assertArrayEquals(third, reader.readDoubles("b.y"));
    }
  }

  @Test
  void copyingATensorOfAnotherShapeFailsNamingBothFiles() throws IOException {
    Path part = tmp.resolve("part.safetensors");
    write(part, List.of(TensorSpec.matrix("m", DType.F32, 2, 2)), List.of(new double[4]));
    OutputFile out = store.outputFile(tmp.resolve("whole.safetensors").toString());
    SafetensorsWriter writer =
        SafetensorsWriter.open(out, List.of(TensorSpec.matrix("m", DType.F32, 4, 1)), Map.of());
    InputFile in = store.inputFile(part.toString());
    try (SafetensorsReader reader = new SafetensorsReader(in, SafetensorsHeader.read(in))) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class, () -> writer.copyTensors(reader, new byte[1024]));
      assertEquals(
          "Cannot copy tensor 'm' of "
              + part
              + " to "
              + out.location()
              + ": it is F32 [2, 2], and the layout here has F32 [4, 1].",
          e.getMessage());
    }
  }

  private void write(Path file, List<TensorSpec> layout, List<double[]> values) throws IOException {
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(store.outputFile(file.toString()), layout, Map.of())) {
      for (int t = 0; t < layout.size(); t++) {
        writer.write(layout.get(t).name(), values.get(t));
      }
    }
  }

  @Test
  void refusesOutOfOrderWrite() throws IOException {
    OutputFile out = store.outputFile(tmp.resolve("order.safetensors").toString());
    List<TensorSpec> layout =
        List.of(
            new TensorSpec("first", DType.F32, new long[] {1}),
            new TensorSpec("second", DType.F32, new long[] {1}));
    SafetensorsWriter writer = SafetensorsWriter.open(out, layout, Map.of());
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> writer.write("second", new double[] {1}));
    assertEquals(
        "Cannot write tensor 'second' to "
            + out.location()
            + ": tensors must be written in layout order, and the next one is 'first'.",
        e.getMessage());
    IllegalStateException size =
        assertThrows(IllegalStateException.class, () -> writer.write("first", new double[2]));
    assertTrue(
        size.getMessage().contains("needs 4 bytes (1 values), got 8 bytes"), size.getMessage());
    writer.write("first", new double[] {1});
    IOException missing = assertThrows(IOException.class, writer::close);
    assertEquals(
        "Cannot finish "
            + out.location()
            + ": tensor 'second' was not written; the file is incomplete.",
        missing.getMessage());
    assertTrue(
        Files.exists(Path.of(out.location())), "nothing is deleted: the caller owns staging");
  }

  @Test
  void refusesDuplicateNamesAndUnwritableDtypes() throws IOException {
    OutputFile out = store.outputFile(tmp.resolve("dup.safetensors").toString());
    TensorSpec spec = new TensorSpec("x", DType.F32, new long[] {1});
    IllegalArgumentException dup =
        assertThrows(
            IllegalArgumentException.class,
            () -> SafetensorsWriter.open(out, List.of(spec, spec), Map.of()));
    assertEquals(
        "Cannot write " + out.location() + ": tensor 'x' appears twice.", dup.getMessage());

    try (SafetensorsWriter writer =
        SafetensorsWriter.open(
            out, List.of(new TensorSpec("i", DType.I32, new long[] {1})), Map.of())) {
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> writer.write("i", new double[] {1}));
      assertTrue(e.getMessage().contains("I32 is not writable; use writeRaw"), e.getMessage());
      writer.writeRaw("i", new byte[4]);
    }
    IOException exists =
        assertThrows(IOException.class, () -> SafetensorsWriter.open(out, List.of(), Map.of()));
    assertEquals("Cannot create " + out.location() + ": it already exists", exists.getMessage());
  }

  @Test
  void emptyFileHasOnlyMetadata() throws IOException {
    OutputFile out = store.outputFile(tmp.resolve("empty.safetensors").toString());
    SafetensorsWriter.open(out, List.of(), Map.of()).close();
    SafetensorsHeader header = SafetensorsHeader.read(store.inputFile(out.location()));
    assertEquals(0, header.tensors().size());
    assertEquals(header.fileLength(), header.dataOffset());
  }
}
