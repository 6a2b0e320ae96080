package dev.knots.io.hadoop;

import dev.knots.io.FileStore;
import dev.knots.io.InputFile;
import dev.knots.io.LocatedOutputStream;
import dev.knots.io.Locations;
import dev.knots.io.OutputFile;
import dev.knots.io.Redacted;
import dev.knots.io.Storage;
import java.io.BufferedOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.NotDirectoryException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.ParentNotDirectoryException;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.PathIsNotDirectoryException;

/**
 * {@link FileStore} over Hadoop's {@link FileSystem}, for any URI Hadoop has a file system for:
 * {@code hdfs://}, {@code s3a://}, {@code file://}, {@code abfs://} and so on. File systems come
 * from Hadoop's shared cache ({@link Path#getFileSystem}), so they are created once per scheme,
 * authority and user, and are not closed by this store.
 *
 * <p>Reads are positioned reads ({@code FSDataInputStream.readFully(position, ...)}) on files
 * opened with the random read policy, which on S3 means one ranged GET per read rather than a
 * stream of the whole object. A file whose length the caller knows is opened without asking the
 * store for its status. Every message shows locations with their user-info removed ({@link
 * Locations#redact}).
 *
 * <p>On {@code file://} Hadoop's checksummed local file system writes {@code .crc} files beside
 * each file; {@link RoutingFileStore} sends local locations to {@link dev.knots.io.LocalFileStore}
 * instead.
 */
public final class HadoopFileStore implements FileStore {

  private static final int WRITE_BUFFER_BYTES = 256 * 1024;

  private static final String CREDENTIALS_HINT =
      "Remove the credentials from the URI and set them in the Hadoop configuration"
          + " (for s3a: fs.s3a.access.key and fs.s3a.secret.key, or a credentials provider).";

  private static final Set<String> ATOMIC_RENAME_SCHEMES = Set.of("hdfs", "viewfs", "file");

  private final Configuration conf;

  /**
   * The file systems of a store with its own settings, by scheme and authority; null when the store
   * shares Hadoop's cache, which keys file systems by scheme, authority and user only, so that the
   * first configuration to create one would set it for every store in the JVM.
   */
  private final Map<String, FileSystem> own;

  /**
   * The s3a input stream this project reads with unless the configuration names one: {@code
   * classic}. Hadoop 3.5's default ({@code analytics}) sends a HEAD per file even when the length
   * is known; the classic stream, given the length, sends none, only one ranged GET per read.
   */
  public static final String S3A_INPUT_STREAM_TYPE = "fs.s3a.input.stream.type";

  public static final String DEFAULT_S3A_INPUT_STREAM = "classic";

  /**
   * A store whose file systems are configured by {@code conf} (credentials, endpoints, ...). If
   * {@code conf} does not set {@value #S3A_INPUT_STREAM_TYPE}, the store uses a copy of it with
   * {@value #DEFAULT_S3A_INPUT_STREAM}; per-bucket settings ({@code
   * fs.s3a.bucket.NAME.input.stream.type}) still win.
   */
  public HadoopFileStore(Configuration conf) {
    this.conf = withDefaults(Objects.requireNonNull(conf, "conf"));
    this.own = null;
  }

  private HadoopFileStore(Configuration conf, Map<String, FileSystem> own) {
    this.conf = conf;
    this.own = own;
  }

  /**
   * s3a's retries and connection timeout for reads that must fail within seconds when S3 cannot be
   * reached: one retry by the AWS SDK and one by s3a instead of 5 and 7 with backoff (about two
   * minutes against a closed port), and 15 s (the least s3a accepts) instead of 30 s to open a
   * connection.
   */
  static final Map<String, String> FAIL_FAST =
      Map.of(
          "fs.s3a.attempts.maximum", "1",
          "fs.s3a.retry.limit", "1",
          "fs.s3a.connection.establish.timeout", "15s");

  /**
   * A store like {@link #HadoopFileStore(Configuration)} that fails within seconds when S3 cannot
   * be reached ({@link #FAIL_FAST}, for each key {@code conf} leaves at Hadoop's default), for the
   * driver's reads before the job starts. Its file systems are its own, so the job's keep s3a's
   * retries, which ride out a transient error in the middle of a long merge.
   */
  public static HadoopFileStore failingFast(Configuration conf) {
    Configuration copy = new Configuration(withDefaults(Objects.requireNonNull(conf, "conf")));
    FAIL_FAST.forEach(
        (key, value) -> {
          if (!setByUser(copy, key)) {
            copy.set(key, value, "knots-merge default for reads before the job");
          }
        });
    return new HadoopFileStore(copy, new HashMap<>());
  }

  /** Whether {@code key} is set other than by Hadoop's own core-default.xml. */
  private static boolean setByUser(Configuration conf, String key) {
    String[] sources = conf.getPropertySources(key);
    return sources != null && !Arrays.asList(sources).equals(List.of("core-default.xml"));
  }

  /** {@code conf}, or a copy of it with this project's defaults for what it leaves unset. */
  static Configuration withDefaults(Configuration conf) {
    if (conf.get(S3A_INPUT_STREAM_TYPE) != null) {
      return conf;
    }
    Configuration copy = new Configuration(conf);
    copy.set(S3A_INPUT_STREAM_TYPE, DEFAULT_S3A_INPUT_STREAM, "knots-merge default");
    return copy;
  }

  /** The configuration the file systems are created with; the caller must not change it. */
  public Configuration configuration() {
    return conf;
  }

  @Override
  public InputFile inputFile(String location) {
    return new HadoopInputFile(this, location, path(location), -1);
  }

  @Override
  public InputFile inputFile(String location, long knownLength) {
    if (knownLength < 0) {
      throw new IllegalArgumentException(
          "Cannot use length " + knownLength + " for " + Locations.redact(location));
    }
    return new HadoopInputFile(this, location, path(location), knownLength);
  }

  @Override
  public OutputFile outputFile(String location) {
    Path path = path(location);
    return new OutputFile() {
      @Override
      public String location() {
        return location;
      }

      @Override
      public OutputStream create() throws IOException {
        FileSystem fs = fileSystem(path, "create", location);
        try {
          // overwrite=false: fails if the file exists (on S3 with a conditional PUT); parents are
          // created
          OutputStream raw = fs.create(path, false);
          return new LocatedOutputStream(
              new BufferedOutputStream(raw, WRITE_BUFFER_BYTES), location);
        } catch (IOException e) {
          throw wrap("create", location, e);
        }
      }

      @Override
      public String toString() {
        return Locations.redact(location);
      }
    };
  }

  @Override
  public boolean exists(String location) throws IOException {
    return status(location, "check", path(location)) != null;
  }

  @Override
  public boolean isDirectory(String location) throws IOException {
    FileStatus status = status(location, "check", path(location));
    return status != null && status.isDirectory();
  }

  @Override
  public List<String> list(String directory) throws IOException {
    Path path = path(directory);
    FileSystem fs = fileSystem(path, "list", directory);
    FileStatus[] children;
    try {
      children = fs.listStatus(path);
    } catch (IOException e) {
      throw wrap("list", directory, e);
    }
    // listing a file returns the file itself
    if (children.length == 1
        && children[0].isFile()
        && samePath(children[0].getPath(), fs.makeQualified(path))) {
      throw Storage.wrap("list", directory, new NotDirectoryException(Locations.redact(directory)));
    }
    List<String> names = new ArrayList<>(children.length);
    for (FileStatus child : children) {
      names.add(child.getPath().getName());
    }
    names.sort(null);
    return names;
  }

  @Override
  public void deleteRecursively(String location) throws IOException {
    Path path = path(location);
    FileSystem fs = fileSystem(path, "delete", location);
    try {
      fs.delete(path, true);
    } catch (FileNotFoundException e) {
      // deleted meanwhile: nothing is there, as asked
    } catch (IOException e) {
      throw wrap("delete", location, e);
    }
  }

  @Override
  public void mkdirs(String location) throws IOException {
    Path path = path(location);
    FileSystem fs = fileSystem(path, "create directory", location);
    boolean created;
    try {
      created = fs.mkdirs(path);
    } catch (IOException e) {
      throw wrap("create directory", location, e);
    }
    if (!created) {
      throw new IOException(
          "Cannot create directory "
              + Locations.redact(location)
              + ": the file system refused. Check that no file is in the way and the permissions.");
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>Both locations must be on the same Hadoop file system (same scheme and authority). On S3 the
   * rename copies each object and deletes the source, so it is neither atomic nor fast.
   */
  @Override
  public void rename(String from, String to) throws IOException {
    String both = from + " to " + to;
    Path source = path(from);
    Path target = path(to);
    FileSystem fs = fileSystem(source, "rename", both);
    FileSystem targetFs = fileSystem(target, "rename", both);
    if (!fs.getUri().equals(targetFs.getUri())) {
      throw new IOException(
          "Cannot rename "
              + Locations.redact(both)
              + ": they are on different file systems ("
              + Locations.redact(fs.getUri().toString())
              + ", "
              + Locations.redact(targetFs.getUri().toString())
              + "). Copy the data instead.");
    }
    if (status(to, "rename", target) != null) {
      throw Storage.renameTargetExists(from, to);
    }
    if (status(from, "rename", source) == null) {
      throw Storage.wrap("rename", from, new FileNotFoundException(Locations.redact(from)));
    }
    boolean renamed = true;
    try {
      Path parent = target.getParent();
      if (parent != null && !parent.isRoot()) {
        fs.mkdirs(parent);
      }
      if (renamesAtomically(to)) {
        // FileSystem.rename would move the source into a directory created at the target since
        // the check above; this rename fails instead, atomically on the NameNode.
        FileContext.getFileContext(fs.getUri(), conf).rename(source, target, Options.Rename.NONE);
      } else {
        renamed = fs.rename(source, target);
      }
    } catch (FileAlreadyExistsException e) {
      throw Storage.renameTargetExists(from, to);
    } catch (IOException e) {
      throw wrap("rename", both, e);
    }
    if (!renamed) {
      if (status(to, "rename", target) != null) {
        throw Storage.renameTargetExists(from, to);
      }
      throw new IOException(
          "Cannot rename "
              + Locations.redact(both)
              + ": the file system refused the rename. Check the permissions on both locations.");
    }
  }

  /** HDFS (and ViewFs over it) renames in one NameNode operation; object stores copy. */
  @Override
  public boolean renamesAtomically(String location) {
    String scheme = path(location).toUri().getScheme();
    return scheme != null && ATOMIC_RENAME_SCHEMES.contains(scheme.toLowerCase(Locale.ROOT));
  }

  /**
   * {@inheritDoc} Here the qualified URI ({@link Path} has already removed {@code .}, {@code ..}
   * and trailing slashes); a host written with and without its default port counts as two.
   */
  @Override
  public String canonical(String location) throws IOException {
    Path path = path(location);
    return fileSystem(path, "use", location).makeQualified(path).toString();
  }

  @Override
  public String resolve(String directory, String child) {
    return Locations.join(directory, child);
  }

  /** The status of a location, or {@code null} if nothing is there. */
  FileStatus status(String location, String action, Path path) throws IOException {
    FileSystem fs = fileSystem(path, action, location);
    try {
      return fs.getFileStatus(path);
    } catch (FileNotFoundException e) {
      return null;
    } catch (IOException e) {
      throw wrap(action, location, e);
    }
  }

  /**
   * The (cached) file system of a path.
   *
   * @throws IllegalArgumentException naming the location if Hadoop rejects its URI (no bucket, a
   *     wrong authority)
   */
  FileSystem fileSystem(Path path, String action, String location) throws IOException {
    String redacted = Locations.redact(location);
    if (!redacted.equals(location)) {
      // refused before Hadoop sees it: Hadoop logs the URIs of file systems it fails to create
      throw new IllegalArgumentException(
          "Cannot "
              + action
              + " "
              + redacted
              + ": the URI carries credentials. "
              + CREDENTIALS_HINT);
    }
    try {
      return own == null ? path.getFileSystem(conf) : ownFileSystem(path);
    } catch (IOException e) {
      throw wrap(action, location, e);
    } catch (IllegalArgumentException e) {
      String hint = "Check the URI.";
      throw new IllegalArgumentException(
          "Cannot "
              + action
              + " "
              + redacted
              + ": "
              + Locations.redact(e.getMessage())
              + ". "
              + hint,
          Redacted.cause(e));
    }
  }

  /** This store's own file system for the path's scheme and authority, created on first use. */
  private FileSystem ownFileSystem(Path path) throws IOException {
    URI uri = path.toUri();
    String key = uri.getScheme() + "://" + uri.getAuthority();
    synchronized (own) {
      FileSystem fs = own.get(key);
      if (fs == null) {
        // closed with Hadoop's other file systems when the JVM exits
        fs = FileSystem.newInstance(uri, conf);
        own.put(key, fs);
      }
      return fs;
    }
  }

  /**
   * Wraps a Hadoop exception once with the location, naming the reason of the exception types whose
   * own messages are long or server-side (HDFS adds the client name and stack lines), and saying
   * which endpoint could not be reached and what to check when the connection failed.
   */
  IOException wrap(String action, String location, IOException e) {
    String reason;
    Throwable unreachable = connectionFailure(e);
    if (unreachable != null) {
      reason = unreachableReason(location, unreachable);
    } else if (e instanceof FileAlreadyExistsException
        || e instanceof java.nio.file.FileAlreadyExistsException) {
      reason = "it already exists";
    } else if (e instanceof PathIsNotDirectoryException) {
      reason = "not a directory";
    } else if (e instanceof ParentNotDirectoryException) {
      reason = "a parent is a file, not a directory";
    } else {
      reason = firstLine(e);
    }
    return Storage.wrap(action, location, reason, Redacted.cause(e));
  }

  /**
   * The deepest exception in {@code e}'s chain that says a connection could not be opened (its
   * message is the plainest: "Connection refused"), or null.
   */
  private static Throwable connectionFailure(Throwable e) {
    Throwable deepest = null;
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ConnectException
          || t instanceof UnknownHostException
          || t instanceof NoRouteToHostException
          // Hadoop's and Apache HttpClient's, which extend different classes
          || t.getClass().getSimpleName().equals("ConnectTimeoutException")) {
        deepest = t;
      }
    }
    return deepest;
  }

  /** The endpoint {@code location} is reached through, which key sets it, and what to check. */
  private String unreachableReason(String location, Throwable failure) {
    URI uri = path(location).toUri();
    String cause = firstLine(failure);
    if (!"s3a".equals(uri.getScheme())) {
      return "cannot connect to "
          + Locations.redact(uri.getScheme() + "://" + uri.getAuthority())
          + " ("
          + cause
          + "). Check that the service runs and that this machine can reach it.";
    }
    String bucketKey = "fs.s3a.bucket." + uri.getHost() + ".endpoint";
    String key = conf.get(bucketKey) != null ? bucketKey : "fs.s3a.endpoint";
    String endpoint = conf.getTrimmed(key, "");
    if (endpoint.isEmpty()) {
      return "cannot connect to AWS S3 ("
          + cause
          + "); fs.s3a.endpoint is not set. Check the network and any proxy (fs.s3a.proxy.host),"
          + " or set fs.s3a.endpoint to your S3 service.";
    }
    return "cannot connect to the S3 endpoint "
        + endpoint
        + " ("
        + key
        + "): "
        + cause
        + ". Check that "
        + key
        + " names a running S3 service this machine can reach (host, port, http or https;"
        + " fs.s3a.proxy.host for a proxy).";
  }

  private static String firstLine(Throwable e) {
    String message = e.getMessage();
    if (message == null || message.isBlank()) {
      return e.getClass().getSimpleName();
    }
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }

  private static boolean samePath(Path a, Path b) {
    return a.toUri().getPath().equals(b.toUri().getPath());
  }

  /**
   * The Hadoop path of a location.
   *
   * @throws IllegalArgumentException naming the (redacted) location if it is not a valid path or
   *     URI
   */
  static Path path(String location) {
    Objects.requireNonNull(location, "location");
    try {
      return new Path(location);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "Cannot use "
              + Locations.redact(location)
              + " as a Hadoop path: "
              + Locations.redact(e.getMessage())
              + ". Use a URI such as hdfs://namenode:8020/dir or s3a://bucket/dir.");
    }
  }
}
