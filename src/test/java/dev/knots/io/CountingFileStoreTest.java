package dev.knots.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CountingFileStoreTest {

  @TempDir Path tmp;

  private final IoCounters.Totals totals = new IoCounters.Totals();
  private final CountingFileStore store = new CountingFileStore(new LocalFileStore(), totals);

  @Test
  void countsEveryByteWrittenThroughEachWriteMethod() throws IOException {
    String file = store.resolve(tmp.toString(), "out.bin");
    try (OutputStream out = store.outputFile(file).create()) {
      out.write(7);
      out.write(new byte[100]);
      out.write(new byte[50], 10, 30);
    }
    assertEquals(131, totals.bytesWritten());
    assertEquals(0, totals.bytesRead());
    assertEquals(131, store.inputFile(file).length());
  }

  @Test
  void countsEveryByteReadByRangedReads() throws IOException {
    String file = store.resolve(tmp.toString(), "in.bin");
    Storage.writeAll(new LocalFileStore().outputFile(file), new byte[1000]);
    try (RangeReader reader = store.inputFile(file, 1000).open()) {
      reader.readFully(0, new byte[10], 0, 10);
      reader.readFully(500, new byte[300], 100, 200);
      assertThrows(EOFException.class, () -> reader.readFully(990, new byte[20], 0, 20));
    }
    assertEquals(210, totals.bytesRead(), "a failed read counts nothing");
    assertEquals(1000, Storage.readAll(store.inputFile(file), 1000).length);
    assertEquals(1210, totals.bytesRead());
    assertEquals(0, totals.bytesWritten());
  }

  @Test
  void directoryOperationsPassThroughUncounted() throws IOException {
    String dir = store.resolve(tmp.toString(), "d");
    store.mkdirs(dir);
    Storage.writeAll(store.outputFile(store.resolve(dir, "a")), new byte[] {1, 2});
    store.rename(store.resolve(dir, "a"), store.resolve(dir, "b"));
    assertEquals(java.util.List.of("b"), store.list(dir));
    assertEquals(true, store.isDirectory(dir));
    store.deleteRecursively(dir);
    assertEquals(false, store.exists(dir));
    assertEquals(2, totals.bytesWritten());
    assertEquals(0, totals.bytesRead());
  }

  @Test
  void survivesJavaSerialization() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(new CountingFileStore(new LocalFileStore(), totals));
    }
    CountingFileStore copy;
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      copy = (CountingFileStore) in.readObject();
    }
    String file = copy.resolve(tmp.toString(), "x.bin");
    Storage.writeAll(copy.outputFile(file), new byte[] {1, 2, 3});
    assertArrayEquals(new byte[] {1, 2, 3}, Storage.readAll(copy.inputFile(file), 10));
    // the copy counts into its own copy of the totals, not into ours
    assertEquals(0, totals.bytesWritten());
  }
}
