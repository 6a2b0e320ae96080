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
 * netlib's BLAS and LAPACK, loaded once per JVM (the driver's and every executor's), and quietly.
 * On Linux x86-64 they are the OpenBLAS the application jar carries ({@link BundledOpenBlas}),
 * unless the user names a library with netlib's {@code nativeLib} or {@code nativeLibPath}
 * properties. On other Linux machines the system's libblas.so.3 and liblapack.so.3 are looked for
 * where the dynamic linker would look, and netlib is told not to try one that is missing (its
 * {@code allowNative} property; {@code -Ddev.ludovic.netlib.blas.allowNative=true} makes it try
 * anyway): its loader would print {@code netlib-blas: JNI_OnLoad: dlopen(libblas.so.3) failed}
 * straight to stderr, past any logging configuration. When native code does not load, the program
 * says so once, in its own log, with why; when the user turned it off ({@code allowNative=false}),
 * it says nothing.
 */
public final class Netlib {
  private static final String PURE_JAVA =
      "the merge's linear algebra runs on netlib's pure-Java code, several times slower.";
  private static final String SYSTEM_HINT =
      "The application carries OpenBLAS for Linux x86-64 only; elsewhere, install"
          + " libopenblas0-pthread (Debian/Ubuntu) or openblas (Fedora/RHEL) for native speed.";

  /** netlib's own logger, kept quiet; held here, since java.util.logging forgets unused ones. */
  private static final java.util.logging.Logger NETLIB_LOG =
      java.util.logging.Logger.getLogger("dev.ludovic.netlib");

  private static final BLAS BLAS_;
  private static final LAPACK LAPACK_;

  static {
    NETLIB_LOG.setLevel(Level.WARNING);
    Library blas = new Library("blas", "BLAS", "libblas.so.3");
    Library lapack = new Library("lapack", "LAPACK", "liblapack.so.3");
    String bundledFailure = null;
    if (BundledOpenBlas.fits() && (blas.takesBundled() || lapack.takesBundled())) {
      try {
        String openblas = BundledOpenBlas.load().toString();
        blas.useBundled(openblas);
        lapack.useBundled(openblas);
      } catch (IOException | UnsatisfiedLinkError e) {
        bundledFailure = e.getMessage();
        blas.skipBundled();
        lapack.skipBundled();
      }
    }
    blas.tryNativeOnlyIfFound();
    lapack.tryNativeOnlyIfFound();
    BLAS_ = BLAS.getInstance();
    LAPACK_ = LAPACK.getInstance();
    // netlib's pure-Java LAPACK computes its machine constants (DLAMCH) on first use, without a
    // lock: two threads doing their first SVD at once could hang in DLASCL, or leave every later
    // SVD in the JVM failing to converge. Computed here, under this class's initialization lock.
    LAPACK_.dlamch("E");
    if (bundledFailure != null) {
      LoggerFactory.getLogger("knots-merge").warn(bundledNotLoaded(bundledFailure));
    } else {
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
  }

  private Netlib() {}

  /** netlib's BLAS: native OpenBLAS (bundled or the system's) if it loads, else pure Java. */
  public static BLAS blas() {
    return BLAS_;
  }

  /** netlib's LAPACK: native OpenBLAS (bundled or the system's) if it loads, else pure Java. */
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

  static String bundledNotLoaded(String why) {
    return String.format(
        Locale.ROOT,
        "Could not load the bundled OpenBLAS (%s): %s Set XDG_CACHE_HOME to a directory of yours"
            + " for native speed.",
        why.strip(),
        PURE_JAVA);
  }

  static String notFound(List<Library> missing) {
    List<String> kinds = new ArrayList<>();
    List<String> names = new ArrayList<>();
    boolean named = false;
    for (Library l : missing) {
      kinds.add(l.kind);
      names.add(l.name());
      named |= l.named();
    }
    String what = String.join(" and ", kinds);
    if (!isLinux()) {
      return String.format(
          Locale.ROOT,
          "Native %s not loaded on %s %s: %s The application carries OpenBLAS for Linux x86-64"
              + " only.",
          what,
          System.getProperty("os.name"),
          System.getProperty("os.arch"),
          PURE_JAVA);
    }
    return String.format(
        Locale.ROOT,
        "Native %s not found (%s): %s%s",
        what,
        String.join(", ", names),
        PURE_JAVA,
        named ? "" : " " + SYSTEM_HINT);
  }

  private static boolean isLinux() {
    return System.getProperty("os.name", "").equals("Linux");
  }

  /** One of netlib's libraries and the system properties its loader reads. */
  private static final class Library {
    final String kind;
    final String defaultName;
    final String prefix;

    /** Whether netlib would try native code: unless the user turned it off. */
    final boolean nativeWanted;

    /** Whether this library's native code is settled (bundled, or turned off after it failed). */
    private boolean settled;

    Library(String id, String kind, String defaultName) {
      this.kind = kind;
      this.defaultName = defaultName;
      this.prefix = "dev.ludovic.netlib." + id + ".";
      this.nativeWanted =
          !System.getProperty(prefix + "allowNative", "true").equalsIgnoreCase("false");
    }

    /** Whether the user named the library (nativeLibPath or nativeLib). */
    boolean named() {
      return System.getProperty(prefix + "nativeLibPath") != null
          || System.getProperty(prefix + "nativeLib") != null;
    }

    /** The library netlib would open: nativeLibPath if set, else nativeLib, else the default. */
    String name() {
      String path = System.getProperty(prefix + "nativeLibPath");
      return path != null ? path : System.getProperty(prefix + "nativeLib", defaultName);
    }

    /** Whether the bundled OpenBLAS is for this library: native wanted, no library named. */
    boolean takesBundled() {
      return nativeWanted && !named();
    }

    void useBundled(String openblas) {
      if (takesBundled()) {
        System.setProperty(prefix + "nativeLibPath", openblas);
        settled = true;
      }
    }

    /** The bundled library failed to load: netlib is not to try it, nor the system's default. */
    void skipBundled() {
      if (takesBundled()) {
        System.setProperty(prefix + "allowNative", "false");
        settled = true;
      }
    }

    /** Tells netlib not to try a library that is missing, unless the user said to try it. */
    void tryNativeOnlyIfFound() {
      String allowNative = prefix + "allowNative";
      if (!settled
          && nativeWanted
          && isLinux()
          && System.getProperty(allowNative) == null
          && !linkerFinds(name())) {
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
