package dev.knots.linalg;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.NativeBLAS;
import dev.ludovic.netlib.lapack.LAPACK;
import dev.ludovic.netlib.lapack.NativeLAPACK;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.logging.Level;
import org.slf4j.LoggerFactory;

/**
 * netlib's BLAS and LAPACK, loaded once per JVM, and quietly. Without a native BLAS on the system,
 * netlib's loader prints {@code netlib-blas: JNI_OnLoad: dlopen(libblas.so.3) failed} straight to
 * the process's stderr (from C, past any logging configuration), and the same for LAPACK, then uses
 * its pure-Java code. So on Linux, where netlib has native code, the libraries are first looked for
 * where the dynamic linker would look; netlib is told not to try one that is missing (its {@code
 * allowNative} property; {@code -Ddev.ludovic.netlib.blas.allowNative=true} makes it try anyway),
 * and the program says once, in its own log, what that costs and what to install.
 */
public final class Netlib {
  private static final String LINUX_HINT =
      "Install libopenblas0-pthread (Debian/Ubuntu) or openblas (Fedora/RHEL) for native speed.";

  /** netlib's own logger, kept quiet; held here, since java.util.logging forgets unused ones. */
  private static final java.util.logging.Logger NETLIB_LOG =
      java.util.logging.Logger.getLogger("dev.ludovic.netlib");

  private static final BLAS BLAS_;
  private static final LAPACK LAPACK_;

  static {
    NETLIB_LOG.setLevel(Level.WARNING);
    Library blas = new Library("blas", "BLAS", "libblas.so.3");
    Library lapack = new Library("lapack", "LAPACK", "liblapack.so.3");
    blas.tryNativeOnlyIfFound();
    lapack.tryNativeOnlyIfFound();
    BLAS_ = BLAS.getInstance();
    LAPACK_ = LAPACK.getInstance();
    // netlib's pure-Java LAPACK computes its machine constants (DLAMCH) on first use, without a
    // lock: two threads doing their first SVD at once could hang in DLASCL, or leave every later
    // SVD in the JVM failing to converge. Computed here, under this class's initialization lock.
    LAPACK_.dlamch("E");
    List<Library> missing = new ArrayList<>();
    if (blas.nativeWanted && !(BLAS_ instanceof NativeBLAS)) {
      missing.add(blas);
    }
    if (lapack.nativeWanted && !(LAPACK_ instanceof NativeLAPACK)) {
      missing.add(lapack);
    }
    if (!missing.isEmpty()) {
      LoggerFactory.getLogger("knots-merge").warn(notFound(missing));
    }
  }

  private Netlib() {}

  /** netlib's BLAS: native if the system has one, else netlib's pure-Java code. */
  public static BLAS blas() {
    return BLAS_;
  }

  /** netlib's LAPACK: native if the system has one, else netlib's pure-Java code. */
  public static LAPACK lapack() {
    return LAPACK_;
  }

  /**
   * Loads them now. For code that reaches netlib through another library (MLlib) before this
   * program's own linear algebra has run.
   */
  public static void load() {
    // the static initializer does it
  }

  static String notFound(List<Library> missing) {
    List<String> kinds = new ArrayList<>();
    List<String> names = new ArrayList<>();
    missing.forEach(
        l -> {
          kinds.add(l.kind);
          names.add(l.name());
        });
    return String.format(
        Locale.ROOT,
        "Native %s not found (%s): the merge's linear algebra runs on netlib's pure-Java code,"
            + " several times slower. %s",
        String.join(" and ", kinds),
        String.join(", ", names),
        LINUX_HINT);
  }

  /** One of netlib's libraries and the system properties its loader reads. */
  private static final class Library {
    final String kind;
    final String defaultName;
    final String prefix;

    /** Whether netlib would try the native library: on Linux, unless the user said otherwise. */
    final boolean nativeWanted;

    Library(String id, String kind, String defaultName) {
      this.kind = kind;
      this.defaultName = defaultName;
      this.prefix = "dev.ludovic.netlib." + id + ".";
      this.nativeWanted =
          System.getProperty("os.name", "").equals("Linux")
              && Boolean.parseBoolean(System.getProperty(prefix + "allowNative", "true"));
    }

    /** The library netlib would open: nativeLibPath if set, else nativeLib, else the default. */
    String name() {
      String path = System.getProperty(prefix + "nativeLibPath");
      return path != null ? path : System.getProperty(prefix + "nativeLib", defaultName);
    }

    /** Tells netlib not to try a library that is missing, unless the user said to try it. */
    void tryNativeOnlyIfFound() {
      String allowNative = prefix + "allowNative";
      if (nativeWanted && System.getProperty(allowNative) == null && !linkerFinds(name())) {
        System.setProperty(allowNative, "false");
      }
    }
  }

  /**
   * Whether the dynamic linker would find the library {@code name} as dlopen looks it up: a name
   * with a slash is a path; others are looked for in LD_LIBRARY_PATH, the linker's cache
   * (/etc/ld.so.cache, which ldconfig writes from /etc/ld.so.conf) and the default directories.
   */
  static boolean linkerFinds(String name) {
    if (name.contains("/")) {
      return Files.isRegularFile(Path.of(name));
    }
    List<String> directories = new ArrayList<>();
    String libraryPath = System.getenv("LD_LIBRARY_PATH");
    if (libraryPath != null) {
      directories.addAll(List.of(libraryPath.split(":")));
    }
    directories.addAll(List.of("/lib64", "/usr/lib64", "/lib", "/usr/lib"));
    for (String directory : directories) {
      if (!directory.isEmpty() && Files.isRegularFile(Path.of(directory, name))) {
        return true;
      }
    }
    return linkerCacheLists(name);
  }

  /**
   * Whether the linker's cache names {@code name}: as a key (the library's name, after the NUL that
   * ends the string before it) or at the end of a path.
   */
  private static boolean linkerCacheLists(String name) {
    String cache;
    try {
      cache =
          new String(Files.readAllBytes(Path.of("/etc/ld.so.cache")), StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      return false;
    }
    String entry = name + '\0';
    for (int at = cache.indexOf(entry); at >= 0; at = cache.indexOf(entry, at + 1)) {
      char before = at == 0 ? '\0' : cache.charAt(at - 1);
      if (before == '\0' || before == '/') {
        return true;
      }
    }
    return false;
  }
}
