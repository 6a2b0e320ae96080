package dev.knots.io;

import java.io.Closeable;
import java.io.IOException;

/**
 * Positional (stateless) reads from one open file. Implementations allow concurrent calls to {@link
 * #readFully} from several threads.
 */
public interface RangeReader extends Closeable {

  /**
   * Reads exactly {@code length} bytes starting at byte {@code position} of the file into {@code
   * buffer[offset .. offset + length)}.
   *
   * @throws java.io.EOFException naming the location if the file ends before {@code position +
   *     length}
   * @throws IOException naming the location for any other read failure
   */
  void readFully(long position, byte[] buffer, int offset, int length) throws IOException;
}
