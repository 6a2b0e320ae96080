package dev.knots.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalFileStoreTest {

  private final LocalFileStore store = new LocalFileStore();

  @TempDir Path tmp;

  @Test
  void writesThenReadsRanges() throws IOException {
    String file = store.resolve(tmp.toString(), "sub/dir/data.bin");
    Storage.writeAll(store.outputFile(file), "0123456789".getBytes(StandardCharsets.US_ASCII));

    InputFile input = store.inputFile(file);
    assertEquals(10, input.length());
    byte[] buffer = new byte[6];
    try (RangeReader reader = input.open()) {
      reader.readFully(3, buffer, 1, 4);
      reader.readFully(0, buffer, 0, 1);
    }
    assertArrayEquals(new byte[] {'0', '3', '4', '5', '6', 0}, buffer);
  }

  @Test
  void readPastEndNamesFileAndPosition() throws IOException {
    String file = store.resolve(tmp.toString(), "short.bin");
    Storage.writeAll(store.outputFile(file), new byte[5]);
    try (RangeReader reader = store.inputFile(file).open()) {
      EOFException e =
          assertThrows(EOFException.class, () -> reader.readFully(2, new byte[8], 0, 8));
      assertTrue(
          e.getMessage().startsWith("Cannot read " + file + ": the file ends at byte 5"),
          e.getMessage());
      assertTrue(e.getMessage().contains("8 bytes were requested at position 2"), e.getMessage());
    }
  }

  @Test
  void createRefusesExistingFile() throws IOException {
    String file = store.resolve(tmp.toString(), "once.txt");
    Storage.writeAll(store.outputFile(file), new byte[] {1});
    IOException e = assertThrows(IOException.class, () -> store.outputFile(file).create());
    assertEquals("Cannot create " + file + ": it already exists", e.getMessage());
    assertEquals(1, Files.size(Path.of(file)));
  }

  @Test
  void missingFileIsWrappedOnceWithItsPath() {
    String file = store.resolve(tmp.toString(), "missing.safetensors");
    FileNotFoundException length =
        assertThrows(FileNotFoundException.class, () -> store.inputFile(file).length());
    assertEquals("Cannot read " + file + ": no such file or directory", length.getMessage());
    FileNotFoundException open =
        assertThrows(FileNotFoundException.class, () -> store.inputFile(file).open());
    assertEquals("Cannot open " + file + ": no such file or directory", open.getMessage());
  }

  @Test
  void knownLengthNeedsNoIo() throws IOException {
    assertEquals(42, store.inputFile(tmp.resolve("not-there").toString(), 42).length());
  }

  @Test
  void acceptsFileUris() throws IOException {
    String dir = tmp.toUri().toString();
    assertTrue(dir.startsWith("file:///"), dir);
    String file = store.resolve(dir, "a.txt");
    assertEquals(dir + (dir.endsWith("/") ? "" : "/") + "a.txt", file);
    Storage.writeAll(store.outputFile(file), new byte[] {7, 8});
    assertTrue(Files.exists(tmp.resolve("a.txt")));
    assertTrue(store.exists(file));
    assertEquals(2, store.inputFile(file).length());
    assertEquals(List.of("a.txt"), store.list(dir));
  }

  @Test
  void resolveJoinsWithOneSlash() {
    assertEquals("/data/x/model.safetensors", store.resolve("/data/x/", "model.safetensors"));
    assertEquals("/data/x/model.safetensors", store.resolve("/data/x", "model.safetensors"));
    assertEquals("/a", store.resolve("/", "a"));
  }

  @Test
  void listsDeletesAndCreatesDirectories() throws IOException {
    String root = store.resolve(tmp.toString(), "tree");
    store.mkdirs(store.resolve(root, "b/c"));
    Storage.writeAll(store.outputFile(store.resolve(root, "a.txt")), new byte[1]);
    Storage.writeAll(store.outputFile(store.resolve(root, "b/c/d.txt")), new byte[1]);
    assertEquals(List.of("a.txt", "b"), store.list(root));

    store.deleteRecursively(root);
    assertFalse(store.exists(root));
    store.deleteRecursively(root); // nothing there: no error
  }

  @Test
  void listOfMissingDirectoryOrFileFails() throws IOException {
    String missing = store.resolve(tmp.toString(), "nope");
    IOException e = assertThrows(IOException.class, () -> store.list(missing));
    assertEquals("Cannot list " + missing + ": no such file or directory", e.getMessage());

    String file = store.resolve(tmp.toString(), "plain.txt");
    Storage.writeAll(store.outputFile(file), new byte[1]);
    IOException notDir = assertThrows(IOException.class, () -> store.list(file));
    assertEquals("Cannot list " + file + ": not a directory", notDir.getMessage());
  }

  @Test
  void refusesOtherSchemes() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> store.inputFile("s3a://bucket/model.safetensors"));
    assertTrue(
        e.getMessage().startsWith("Cannot use s3a://bucket/model.safetensors as a local file"),
        e.getMessage());
  }

  @Test
  void readAllRefusesLargeFiles() throws IOException {
    String file = store.resolve(tmp.toString(), "big.json");
    try (OutputStream out = store.outputFile(file).create()) {
      out.write(new byte[100]);
    }
    IOException e =
        assertThrows(FileFormatException.class, () -> Storage.readAll(store.inputFile(file), 10));
    assertTrue(
        e.getMessage().startsWith("Cannot read " + file + ": it has 100 bytes, more than the 10"),
        e.getMessage());
    assertEquals(100, Storage.readAll(store.inputFile(file), 100).length);
  }
}
