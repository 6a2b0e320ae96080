package dev.knots.linalg;

import java.io.IOException;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The OpenBLAS that the application jar carries for Linux x86-64 (org.bytedeco:openblas), unpacked
 * into a per-user cache directory and loaded, so that netlib can be pointed at it: a fresh machine
 * or a cluster's executors get native BLAS and LAPACK without a system package.
 */
final class BundledOpenBlas {
  private static final String RESOURCES = "org/bytedeco/openblas/linux-x86_64/";

  /**
   * In load order: libopenblas finds libgfortran beside it (its RUNPATH is $ORIGIN), but
   * libgfortran has no RUNPATH, so its libquadmath must already be loaded.
   */
  private static final List<String> LIBRARIES =
      List.of("libquadmath.so.0", "libgfortran.so.5", "libopenblas.so.0");

  private static final Set<PosixFilePermission> OWNER_ONLY =
      PosixFilePermissions.fromString("rwx------");

  private BundledOpenBlas() {}

  /** Whether the jar has OpenBLAS for this machine. */
  static boolean fits() {
    return System.getProperty("os.name", "").equals("Linux")
        && System.getProperty("os.arch", "").equals("amd64");
  }

  /**
   * Unpacks the libraries (once per version and user) and loads them into this process.
   *
   * @return the path of libopenblas, for netlib's nativeLibPath properties
   * @throws IOException why no directory took them, or a library is not in the jar
   * @throws UnsatisfiedLinkError a library the system cannot load (its message says why)
   */
  static Path load() throws IOException {
    URL openblas = resource("libopenblas.so.0");
    Path directory = cacheDirectory(version(openblas));
    for (String library : LIBRARIES) {
      Path file = directory.resolve(library);
      if (!Files.isRegularFile(file)) {
        unpack(resource(library), file);
      }
    }
    for (String library : LIBRARIES) {
      System.load(directory.resolve(library).toString());
    }
    return directory.resolve("libopenblas.so.0");
  }

  private static URL resource(String library) throws IOException {
    URL url = BundledOpenBlas.class.getClassLoader().getResource(RESOURCES + library);
    if (url == null) {
      throw new IOException(RESOURCES + library + " is not on the classpath");
    }
    return url;
  }

  /**
   * Names the unpacked copy after libopenblas's checksum in the jar, so a new build gets its own.
   */
  private static String version(URL openblas) throws IOException {
    URLConnection connection = openblas.openConnection();
    if (!(connection instanceof JarURLConnection jar)) {
      throw new IOException(openblas + " is not in a jar");
    }
    return String.format(Locale.ROOT, "openblas-%08x", jar.getJarEntry().getCrc());
  }

  /**
   * The first of the per-user cache ($XDG_CACHE_HOME or ~/.cache) and the temporary directory that
   * can be made, owned by this user and closed to others (a library others could replace would run
   * as this user).
   */
  private static Path cacheDirectory(String version) throws IOException {
    List<Path> candidates = new ArrayList<>();
    String xdg = System.getenv("XDG_CACHE_HOME");
    if (xdg != null && xdg.startsWith("/")) {
      candidates.add(Path.of(xdg, "knots-merge"));
    }
    candidates.add(Path.of(System.getProperty("user.home"), ".cache", "knots-merge"));
    candidates.add(
        Path.of(
            System.getProperty("java.io.tmpdir"),
            "knots-merge-" + System.getProperty("user.name")));
    List<String> failures = new ArrayList<>();
    for (Path candidate : candidates) {
      Path directory = candidate.resolve(version);
      try {
        ownedDirectory(candidate);
        ownedDirectory(directory);
        return directory;
      } catch (IOException e) {
        failures.add(e.getMessage());
      }
    }
    throw new IOException("no directory to unpack it into: " + String.join("; ", failures));
  }

  private static void ownedDirectory(Path directory) throws IOException {
    try {
      Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    } catch (FileAlreadyExistsException e) {
      throw new IOException(directory + ": not a directory", e);
    } catch (FileSystemException e) {
      String reason = e.getReason() != null ? e.getReason() : "cannot be made";
      throw new IOException(directory + ": " + reason.toLowerCase(Locale.ROOT), e);
    }
    String owner = Files.getOwner(directory).getName();
    if (!owner.equals(System.getProperty("user.name"))) {
      throw new IOException(directory + ": belongs to " + owner);
    }
    Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(directory);
    if (permissions.contains(PosixFilePermission.GROUP_WRITE)
        || permissions.contains(PosixFilePermission.OTHERS_WRITE)) {
      throw new IOException(directory + ": writable by others");
    }
  }

  /**
   * Writes a private temporary file and renames it into place, so that another JVM unpacking at the
   * same time, or one that loads the library meanwhile, never sees a partial file.
   */
  private static void unpack(URL resource, Path file) throws IOException {
    Path partial = Files.createTempFile(file.getParent(), file.getFileName() + ".", ".partial");
    try {
      try (InputStream in = resource.openStream()) {
        Files.copy(in, partial, StandardCopyOption.REPLACE_EXISTING);
      }
      Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(partial);
    }
  }
}
