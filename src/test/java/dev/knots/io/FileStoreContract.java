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
import java.nio.file.FileAlreadyExistsException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The behaviour every {@link FileStore} shares, run by one subclass per store and storage system
 * (local disk, HDFS, S3). Each test works in its own fresh directory under {@link #base()}, so a
 * subclass can start its server once and share it between tests.
 */
public abstract class FileStoreContract {

  private static final AtomicInteger DIRECTORIES = new AtomicInteger();

  /** The directory of the current test; nothing exists there when the test starts. */
  protected String dir;

  /** The store under test. */
  protected abstract FileStore store();

  /** A directory location under which each test makes its own (need not exist yet). */
  protected abstract String base();

  @BeforeEach
  void freshDirectory(TestInfo test) {
    String method = test.getTestMethod().map(m -> m.getName()).orElse("test");
    dir = store().resolve(base(), method + "-" + DIRECTORIES.incrementAndGet());
  }

  /** {@code name} inside the test's directory. */
  protected String at(String name) {
    return store().resolve(dir, name);
  }

  /** Writes a file with the given content. */
  protected void write(String location, byte[] content) throws IOException {
    Storage.writeAll(store().outputFile(location), content);
  }

  /** The whole content of a file, read with ranged reads. */
  protected byte[] read(String location) throws IOException {
    return Storage.readAll(store().inputFile(location), Integer.MAX_VALUE - 8);
  }

  private static byte[] ascii(String text) {
    return text.getBytes(StandardCharsets.US_ASCII);
  }

  @Test
  void writesThenReadsRanges() throws IOException {
    String file = at("sub/dir/data.bin");
    write(file, ascii("0123456789"));

    InputFile input = store().inputFile(file);
    assertEquals(file, input.location());
    assertEquals(10, input.length());
    byte[] buffer = new byte[6];
    try (RangeReader reader = input.open()) {
      reader.readFully(3, buffer, 1, 4);
      reader.readFully(0, buffer, 0, 1);
      reader.readFully(10, buffer, 0, 0);
    }
    assertArrayEquals(new byte[] {'0', '3', '4', '5', '6', 0}, buffer);
  }

  @Test
  void readsUpToTheEndAndFailsPastIt() throws IOException {
    String file = at("short.bin");
    write(file, ascii("abcde"));
    for (InputFile input : List.of(store().inputFile(file), store().inputFile(file, 5))) {
      try (RangeReader reader = input.open()) {
        byte[] tail = new byte[3];
        reader.readFully(2, tail, 0, 3);
        assertArrayEquals(ascii("cde"), tail);
        EOFException e =
            assertThrows(EOFException.class, () -> reader.readFully(2, new byte[8], 0, 8));
        assertTrue(
            e.getMessage().startsWith("Cannot read " + file + ": the file ends"), e.getMessage());
        assertTrue(e.getMessage().contains("8 bytes were requested at position 2"), e.getMessage());
      }
    }
  }

  @Test
  void readsALargerFileInPieces() throws IOException {
    byte[] content = new byte[3 * 1024 * 1024 + 17];
    new Random(7).nextBytes(content);
    String file = at("large.bin");
    try (OutputStream out = store().outputFile(file).create()) {
      out.write(content, 0, 1000);
      out.write(content[1000]);
      out.write(content, 1001, content.length - 1001);
    }
    assertEquals(content.length, store().inputFile(file).length());
    assertArrayEquals(content, read(file));
  }

  @Test
  void concurrentRangedReadsFromOneReader() throws Exception {
    byte[] content = new byte[256 * 1024];
    new Random(3).nextBytes(content);
    String file = at("shared.bin");
    write(file, content);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try (RangeReader reader = store().inputFile(file, content.length).open()) {
      List<Future<byte[]>> parts = new ArrayList<>();
      int piece = content.length / 16;
      for (int i = 0; i < 16; i++) {
        int start = i * piece;
        parts.add(
            pool.submit(
                () -> {
                  byte[] part = new byte[piece];
                  reader.readFully(start, part, 0, piece);
                  return part;
                }));
      }
      for (int i = 0; i < 16; i++) {
        byte[] expected = new byte[piece];
        System.arraycopy(content, i * piece, expected, 0, piece);
        assertArrayEquals(expected, parts.get(i).get(), "piece " + i);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void emptyFile() throws IOException {
    String file = at("empty.bin");
    write(file, new byte[0]);
    assertEquals(0, store().inputFile(file).length());
    assertArrayEquals(new byte[0], read(file));
  }

  @Test
  void knownLengthNeedsNoIo() throws IOException {
    assertEquals(42, store().inputFile(at("not-there"), 42).length());
    assertThrows(IllegalArgumentException.class, () -> store().inputFile(at("x"), -1));
  }

  @Test
  void createRefusesExistingFile() throws IOException {
    String file = at("once.txt");
    write(file, new byte[] {1});
    IOException e = assertThrows(IOException.class, () -> store().outputFile(file).create());
    assertEquals("Cannot create " + file + ": it already exists", e.getMessage());
    assertArrayEquals(new byte[] {1}, read(file));
  }

  @Test
  void createMakesParentDirectories() throws IOException {
    write(at("a/b/c.bin"), new byte[] {1, 2});
    assertTrue(store().isDirectory(at("a")));
    assertTrue(store().isDirectory(at("a/b")));
    assertEquals(List.of("c.bin"), store().list(at("a/b")));
  }

  @Test
  void missingFileIsWrappedOnceWithItsLocation() throws IOException {
    String file = at("missing.safetensors");
    FileNotFoundException length =
        assertThrows(FileNotFoundException.class, () -> store().inputFile(file).length());
    assertEquals("Cannot read " + file + ": no such file or directory", length.getMessage());
    FileNotFoundException open =
        assertThrows(FileNotFoundException.class, () -> store().inputFile(file).open());
    assertEquals("Cannot open " + file + ": no such file or directory", open.getMessage());
    // with a known length a store may open lazily, so the failure may come with the first read
    FileNotFoundException lazy =
        assertThrows(
            FileNotFoundException.class,
            () -> {
              try (RangeReader reader = store().inputFile(file, 10).open()) {
                reader.readFully(0, new byte[4], 0, 4);
              }
            });
    assertTrue(
        lazy.getMessage()
            .matches("Cannot (open|read) \\Q" + file + "\\E: no such file or directory"),
        lazy.getMessage());
  }

  @Test
  void existsAndIsDirectory() throws IOException {
    String file = at("d/f.txt");
    write(file, new byte[] {1});
    assertTrue(store().exists(file));
    assertTrue(store().exists(at("d")));
    assertFalse(store().exists(at("nothing")));
    assertTrue(store().isDirectory(at("d")));
    assertFalse(store().isDirectory(file));
    assertFalse(store().isDirectory(at("nothing")));
  }

  @Test
  void listsFilesAndDirectoriesSorted() throws IOException {
    write(at("b.txt"), new byte[1]);
    write(at("a.txt"), new byte[1]);
    write(at("c/d.txt"), new byte[1]);
    store().mkdirs(at("e"));
    assertEquals(List.of("a.txt", "b.txt", "c", "e"), store().list(dir));
    assertEquals(List.of(), store().list(at("e")));
  }

  @Test
  void listOfMissingDirectoryOrFileFails() throws IOException {
    String missing = at("nope");
    FileNotFoundException e =
        assertThrows(FileNotFoundException.class, () -> store().list(missing));
    assertEquals("Cannot list " + missing + ": no such file or directory", e.getMessage());

    String file = at("plain.txt");
    write(file, new byte[1]);
    IOException notDir = assertThrows(IOException.class, () -> store().list(file));
    assertEquals("Cannot list " + file + ": not a directory", notDir.getMessage());
  }

  @Test
  void mkdirsCreatesParentsAndIsIdempotent() throws IOException {
    String deep = at("x/y/z");
    store().mkdirs(deep);
    store().mkdirs(deep);
    assertTrue(store().isDirectory(deep));
    assertTrue(store().isDirectory(at("x/y")));
    assertEquals(List.of("z"), store().list(at("x/y")));
  }

  @Test
  void deletesFilesAndTrees() throws IOException {
    write(at("tree/a.txt"), new byte[1]);
    write(at("tree/b/c/d.txt"), new byte[1]);
    write(at("single.txt"), new byte[1]);

    store().deleteRecursively(at("single.txt"));
    assertFalse(store().exists(at("single.txt")));
    store().deleteRecursively(at("tree"));
    assertFalse(store().exists(at("tree")));
    assertFalse(store().exists(at("tree/b/c/d.txt")));
    store().deleteRecursively(at("tree")); // nothing there: no error
  }

  @Test
  void renamesAFileCreatingTheTargetsParents() throws IOException {
    String from = at("staging/part.bin");
    String to = at("final/deep/part.bin");
    write(from, ascii("payload"));
    store().rename(from, to);
    assertFalse(store().exists(from));
    assertArrayEquals(ascii("payload"), read(to));
  }

  @Test
  void renamesADirectoryTree() throws IOException {
    write(at("staging/a.txt"), ascii("a"));
    write(at("staging/sub/b.txt"), ascii("b"));
    store().rename(at("staging"), at("out"));
    assertFalse(store().exists(at("staging")));
    assertEquals(List.of("a.txt", "sub"), store().list(at("out")));
    assertArrayEquals(ascii("b"), read(at("out/sub/b.txt")));
  }

  @Test
  void renameRefusesAnExistingTarget() throws IOException {
    String from = at("new.txt");
    String to = at("old.txt");
    write(from, ascii("new"));
    write(to, ascii("old"));
    FileAlreadyExistsException e =
        assertThrows(FileAlreadyExistsException.class, () -> store().rename(from, to));
    assertEquals(
        "Cannot rename "
            + from
            + " to "
            + to
            + ": "
            + to
            + " already exists. Delete it first or choose another name.",
        e.getMessage());
    assertArrayEquals(ascii("old"), read(to));
    assertArrayEquals(ascii("new"), read(from));

    store().mkdirs(at("existing-dir"));
    assertThrows(FileAlreadyExistsException.class, () -> store().rename(from, at("existing-dir")));
    assertEquals(List.of(), store().list(at("existing-dir")));
  }

  @Test
  void renameOfMissingSourceFails() {
    String from = at("ghost.txt");
    FileNotFoundException e =
        assertThrows(FileNotFoundException.class, () -> store().rename(from, at("to.txt")));
    assertEquals("Cannot rename " + from + ": no such file or directory", e.getMessage());
  }

  @Test
  void resolveJoinsWithOneSlash() {
    String base = base();
    String trimmed = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    assertEquals(trimmed + "/a/b.txt", store().resolve(trimmed, "a/b.txt"));
    assertEquals(trimmed + "/a/b.txt", store().resolve(trimmed + "/", "a/b.txt"));
    assertEquals(trimmed + "/a/b.txt", store().resolve(trimmed + "//", "/a/b.txt"));
  }
}
