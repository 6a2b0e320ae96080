package dev.knots.io;

import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * {@link FileStore} on the local file system through {@code java.nio}. Locations are plain paths
 * ({@code /data/model}, {@code relative/dir}) or {@code file:} URIs ({@code file:///data/model});
 * {@link #resolve} keeps whichever form the directory had. It holds no state and is {@link
 * Serializable}.
 */
public final class LocalFileStore implements FileStore, Serializable {

  private static final long serialVersionUID = 1L;

  private static final int WRITE_BUFFER_BYTES = 1 << 20;

  @Override
  public InputFile inputFile(String location) {
    return new LocalInputFile(location, toPath(location), -1);
  }

  @Override
  public InputFile inputFile(String location, long knownLength) {
    if (knownLength < 0) {
      throw new IllegalArgumentException("Cannot use length " + knownLength + " for " + location);
    }
    return new LocalInputFile(location, toPath(location), knownLength);
  }

  @Override
  public OutputFile outputFile(String location) {
    Path path = toPath(location);
    return new OutputFile() {
      @Override
      public String location() {
        return location;
      }

      @Override
      public OutputStream create() throws IOException {
        try {
          Path parent = path.toAbsolutePath().getParent();
          if (parent != null) {
            Files.createDirectories(parent);
          }
          OutputStream raw =
              Files.newOutputStream(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
          return new LocatedOutputStream(
              new BufferedOutputStream(raw, WRITE_BUFFER_BYTES), location);
        } catch (IOException e) {
          throw Storage.wrap("create", location, e);
        }
      }

      @Override
      public String toString() {
        return location;
      }
    };
  }

  @Override
  public boolean exists(String location) {
    return Files.exists(toPath(location));
  }

  @Override
  public boolean isDirectory(String location) {
    return Files.isDirectory(toPath(location));
  }

  @Override
  public void rename(String from, String to) throws IOException {
    Path source = toPath(from);
    Path target = toPath(to);
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      throw Storage.renameTargetExists(from, to);
    }
    if (!Files.exists(source, LinkOption.NOFOLLOW_LINKS)) {
      throw Storage.wrap("rename", from, new NoSuchFileException(from));
    }
    try {
      Path parent = target.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      // Without REPLACE_EXISTING the move is rename(2) after a check; a non-empty directory
      // created in between still makes rename(2) fail (ENOTEMPTY), so no output is replaced.
      Files.move(source, target);
    } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
      throw Storage.renameTargetExists(from, to);
    } catch (IOException e) {
      throw Storage.wrap("rename", from + " to " + to, e);
    }
  }

  @Override
  public boolean renamesAtomically(String location) {
    return true;
  }

  /** {@inheritDoc} Here a {@code file:///...} URI of the real path, links resolved. */
  @Override
  public String canonical(String location) throws IOException {
    Path path = toPath(location).toAbsolutePath().normalize();
    Path existing = path;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    Path real;
    try {
      real = existing == null ? path : existing.toRealPath().resolve(existing.relativize(path));
    } catch (IOException e) {
      throw Storage.wrap("use", location, e);
    }
    return "file://" + real.normalize();
  }

  @Override
  public List<String> list(String directory) throws IOException {
    Path dir = toPath(directory);
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw Storage.wrap("list", directory, new NotDirectoryException(directory));
    }
    List<String> names = new ArrayList<>();
    try (Stream<Path> children = Files.list(dir)) {
      children.forEach(child -> names.add(child.getFileName().toString()));
    } catch (IOException e) {
      throw Storage.wrap("list", directory, e);
    }
    names.sort(Comparator.naturalOrder());
    return names;
  }

  @Override
  public void deleteRecursively(String location) throws IOException {
    Path root = toPath(location);
    if (!Files.exists(root)) {
      return;
    }
    List<Path> deepestFirst = new ArrayList<>();
    try (Stream<Path> all = Files.walk(root)) {
      all.forEach(deepestFirst::add);
    } catch (IOException e) {
      throw Storage.wrap("delete", location, e);
    }
    deepestFirst.sort(Comparator.reverseOrder());
    for (Path path : deepestFirst) {
      try {
        Files.deleteIfExists(path);
      } catch (IOException e) {
        throw Storage.wrap("delete", path.toString(), e);
      }
    }
  }

  @Override
  public void mkdirs(String location) throws IOException {
    try {
      Files.createDirectories(toPath(location));
    } catch (IOException e) {
      throw Storage.wrap("create directory", location, e);
    }
  }

  @Override
  public String resolve(String directory, String child) {
    return Locations.join(directory, child);
  }

  /**
   * The local path of a location: a plain path, or a {@code file:} URI.
   *
   * @throws IllegalArgumentException naming the location if it is a URI of another scheme
   */
  public static Path toPath(String location) {
    Objects.requireNonNull(location, "location");
    if (location.startsWith("file:")) {
      try {
        return Paths.get(URI.create(location));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "Cannot use "
                + location
                + " as a local file: "
                + e.getMessage()
                + ". Use a plain path or file:///absolute/path.",
            e);
      }
    }
    if (location.matches("^[a-zA-Z][a-zA-Z0-9+.-]+://.*")) {
      throw new IllegalArgumentException(
          "Cannot use "
              + location
              + " as a local file: only plain paths and file: URIs are local."
              + " Use a FileStore for that scheme.");
    }
    return Paths.get(location);
  }

  private static final class LocalInputFile implements InputFile {
    private final String location;
    private final Path path;
    private final long knownLength;

    LocalInputFile(String location, Path path, long knownLength) {
      this.location = location;
      this.path = path;
      this.knownLength = knownLength;
    }

    @Override
    public String location() {
      return location;
    }

    @Override
    public long length() throws IOException {
      if (knownLength >= 0) {
        return knownLength;
      }
      try {
        return Files.size(path);
      } catch (IOException e) {
        throw Storage.wrap("read", location, e);
      }
    }

    @Override
    public RangeReader open() throws IOException {
      try {
        return new LocalRangeReader(location, FileChannel.open(path, StandardOpenOption.READ));
      } catch (IOException e) {
        throw Storage.wrap("open", location, e);
      }
    }

    @Override
    public String toString() {
      return location;
    }
  }

  private static final class LocalRangeReader implements RangeReader {
    private final String location;
    private final FileChannel channel;

    LocalRangeReader(String location, FileChannel channel) {
      this.location = location;
      this.channel = channel;
    }

    @Override
    public void readFully(long position, byte[] buffer, int offset, int length) throws IOException {
      Objects.checkFromIndexSize(offset, length, buffer.length);
      if (position < 0) {
        throw new IllegalArgumentException(
            "Cannot read " + location + " at negative position " + position);
      }
      ByteBuffer target = ByteBuffer.wrap(buffer, offset, length);
      long at = position;
      try {
        while (target.hasRemaining()) {
          int n = channel.read(target, at);
          if (n < 0) {
            throw new EOFException(
                "Cannot read "
                    + location
                    + ": the file ends at byte "
                    + at
                    + ", while "
                    + length
                    + " bytes were requested at position "
                    + position
                    + ". The file is truncated.");
          }
          at += n;
        }
      } catch (EOFException e) {
        throw e;
      } catch (IOException e) {
        throw Storage.wrap("read", location, e);
      }
    }

    @Override
    public void close() throws IOException {
      try {
        channel.close();
      } catch (IOException e) {
        throw Storage.wrap("close", location, e);
      }
    }
  }
}
