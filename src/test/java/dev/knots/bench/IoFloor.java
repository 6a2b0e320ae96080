package dev.knots.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The I/O floor of a merge on this disk: how long it takes just to read every input byte once and
 * to write (and fsync) as many bytes as the merge writes. No merge can be faster than that.
 */
final class IoFloor {

  private static final int BUFFER_BYTES = 8 << 20;
  private static final Path DROP_CACHES = Path.of("/proc/sys/vm/drop_caches");

  private IoFloor() {}

  /** Bytes moved and the seconds it took. */
  record Timing(long bytes, double seconds) {}

  /**
   * Flushes dirty pages and drops the page cache, dentries and inodes ({@code sync; echo 3 >
   * /proc/sys/vm/drop_caches}), so the next reads come from the disk.
   *
   * @return null when the cache was dropped, else why not (e.g. not root)
   */
  static String dropPageCache() {
    try {
      Process sync = new ProcessBuilder("sync").inheritIO().start();
      if (!sync.waitFor(120, TimeUnit.SECONDS) || sync.exitValue() != 0) {
        return "sync failed or timed out";
      }
      Files.writeString(DROP_CACHES, "3\n");
      return null;
    } catch (IOException | SecurityException e) {
      return "cannot write "
          + DROP_CACHES
          + " ("
          + e.getClass().getSimpleName()
          + ": "
          + e.getMessage()
          + "); run as root to measure cold reads";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  /** Reads every byte of {@code files} once, sequentially, in 8 MiB reads. */
  static Timing readAll(List<Path> files) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES);
    long bytes = 0;
    long start = System.nanoTime();
    for (Path file : files) {
      try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
        int n;
        while ((n = in.read(buffer.clear())) >= 0) {
          bytes += n;
        }
      } catch (IOException e) {
        throw new IOException("Cannot read " + file + " for the read floor: " + e.getMessage(), e);
      }
    }
    return new Timing(bytes, (System.nanoTime() - start) / 1e9);
  }

  /**
   * Writes {@code bytes} bytes (not all zero, so no file system can skip them) to a new {@code
   * file}, fsyncs it, and deletes it; the time covers the writes and the fsync.
   */
  static Timing writeAndSync(Path file, long bytes) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES);
    for (int i = 0; i < BUFFER_BYTES; i++) {
      buffer.put((byte) (i * 31 + 7));
    }
    long start = System.nanoTime();
    long elapsed;
    try (FileChannel out =
        FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      long left = bytes;
      while (left > 0) {
        buffer.clear().limit((int) Math.min(BUFFER_BYTES, left));
        while (buffer.hasRemaining()) {
          left -= out.write(buffer);
        }
      }
      out.force(true);
      elapsed = System.nanoTime() - start;
    } catch (IOException e) {
      throw new IOException("Cannot write " + file + " for the write floor: " + e.getMessage(), e);
    } finally {
      Files.deleteIfExists(file);
    }
    return new Timing(bytes, elapsed / 1e9);
  }
}
