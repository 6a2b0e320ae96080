package dev.knots.io.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors bytes by hand, including invalid ones. */
public final class RawFiles {

  private RawFiles() {}

  /** Length prefix, the header text and {@code dataLength} zero bytes. */
  public static byte[] safetensors(String header, int dataLength) {
    return safetensors(header.getBytes(StandardCharsets.UTF_8), dataLength);
  }

  /** Length prefix, the header bytes and {@code dataLength} zero bytes. */
  public static byte[] safetensors(byte[] header, int dataLength) {
    return ByteBuffer.allocate(8 + header.length + dataLength)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putLong(header.length)
        .put(header)
        .array();
  }

  /** Writes {@code bytes} to {@code dir/name} and returns the path as a location. */
  public static String write(Path dir, String name, byte[] bytes) throws IOException {
    Path file = dir.resolve(name);
    Files.createDirectories(file.getParent());
    Files.write(file, bytes);
    return file.toString();
  }
}
