package dev.knots.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.io.FileFormatException;
import dev.knots.io.InputFile;
import dev.knots.io.LocalFileStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsReaderTest {

  private final LocalFileStore store = new LocalFileStore();

  @TempDir Path tmp;

  @Test
  void readsFixtureValuesWithOneRangedReadPerTensor() throws IOException {
    InputFile file = store.inputFile(Fixtures.path("base_model/model.safetensors"));
    SafetensorsHeader header = SafetensorsHeader.read(file);
    List<long[]> reads = new ArrayList<>();
    int[] opens = {0};
    InputFile counted =
        new InputFile() {
          @Override
          public String location() {
            return file.location();
          }

          @Override
          public long length() throws IOException {
            return file.length();
          }

          @Override
          public dev.knots.io.RangeReader open() throws IOException {
            opens[0]++;
            return SafetensorsHeaderTest.recording(file, reads).open();
          }
        };
    try (SafetensorsReader reader = new SafetensorsReader(counted, header)) {
      assertEquals(0, opens[0], "opened lazily");
      String name = "layers.1.self_attn.k_proj.weight";
      double[] k = reader.readDoubles(name);
      // values printed by safetensors.numpy.load_file for this fixture
      assertEquals(32 * 64, k.length);
      assertEquals(0.15952786803245544, k[0]);
      assertEquals(0.08418702334165573, k[1]);
      assertEquals(-0.03390667587518692, k[2047]);
      TensorInfo info = header.require(name);
      assertEquals(
          "[" + (header.dataOffset() + info.begin()) + ", " + info.byteLength() + "]",
          Arrays.toString(reads.get(0)),
          "exactly the tensor's bytes");

      double[] part = reader.readDoubles(name, 64, 3);
      assertArrayEquals(Arrays.copyOfRange(k, 64, 67), part);
      assertEquals(1, opens[0], "one reader, reused");
    }
  }

  @Test
  void readsAdapterFactor() throws IOException {
    InputFile file =
        store.inputFile(Fixtures.path("adapters/shift_down2/adapter_model.safetensors"));
    try (SafetensorsReader reader = new SafetensorsReader(file, SafetensorsHeader.read(file))) {
      double[] b = reader.readDoubles("base_model.model.layers.2.self_attn.v_proj.lora_B.weight");
      assertEquals(256, b.length);
      assertEquals(0.012388905510306358, b[0]);
      assertEquals(-0.08971098810434341, b[255]);
    }
  }

  @Test
  void decodesEveryFloatDtypeLittleEndian() throws IOException {
    ByteBuffer data = ByteBuffer.allocate(8 + 4 + 2 + 2 + 1 + 1).order(ByteOrder.LITTLE_ENDIAN);
    data.putDouble(-0.1)
        .putFloat(2.5f)
        .putShort((short) 0x3555)
        .putShort((short) 0x4049)
        .put((byte) 0x38)
        .put((byte) 0x3c);
    String json =
        "{\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
            + "\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
            + "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[12,14]},"
            + "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[14,16]},"
            + "\"e4\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[16,17]},"
            + "\"e5\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[17,18]}}";
    byte[] bytes = RawFiles.safetensors(json, 18);
    System.arraycopy(data.array(), 0, bytes, bytes.length - 18, 18);
    InputFile file = store.inputFile(RawFiles.write(tmp, "all.safetensors", bytes));
    try (SafetensorsReader reader = new SafetensorsReader(file, SafetensorsHeader.read(file))) {
      assertEquals(-0.1, reader.readDoubles("d")[0]);
      assertEquals(2.5, reader.readDoubles("f")[0]);
      assertEquals(0.333251953125, reader.readDoubles("h")[0]);
      assertEquals(3.140625, reader.readDoubles("b")[0]);
      assertEquals(1.0, reader.readDoubles("e4")[0]);
      assertEquals(1.0, reader.readDoubles("e5")[0]);
      assertArrayEquals(new byte[] {0x55, 0x35}, reader.readRaw("h"));
    }
  }

  @Test
  void refusesNonFloatAsDoubles() throws IOException {
    String json =
        "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
            + "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}";
    InputFile file =
        store.inputFile(RawFiles.write(tmp, "ids.safetensors", RawFiles.safetensors(json, 24)));
    try (SafetensorsReader reader = new SafetensorsReader(file, SafetensorsHeader.read(file))) {
      FileFormatException e =
          assertThrows(FileFormatException.class, () -> reader.readDoubles("ids"));
      assertEquals(
          "Cannot read tensor 'ids' of "
              + file.location()
              + " as floating point: its dtype is I64.",
          e.getMessage());
      assertEquals(16, reader.readRaw("ids").length);
      FileFormatException missing =
          assertThrows(FileFormatException.class, () -> reader.readRaw("x"));
      assertTrue(
          missing.getMessage().startsWith("Cannot find tensor 'x' in " + file.location()),
          missing.getMessage());
      IllegalArgumentException range =
          assertThrows(IllegalArgumentException.class, () -> reader.readDoubles("f", 1, 2));
      assertEquals(
          "Cannot read elements [1, 3) of tensor 'f' in "
              + file.location()
              + ": it has 2 elements.",
          range.getMessage());
    }
  }
}
