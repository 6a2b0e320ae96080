package dev.knots.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.knots.ForkedJvm;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Without a native BLAS, netlib's loader would print its own dlopen failure twice (BLAS, LAPACK) on
 * every run; the program says it once, in its words, with what to install. The missing library is
 * made certain by pointing netlib at a path that does not exist (its nativeLibPath properties), on
 * any machine.
 */
class NetlibTest {
  private static final List<String> MISSING =
      List.of(
          "-Ddev.ludovic.netlib.blas.nativeLibPath=/nonexistent/libblas.so.3",
          "-Ddev.ludovic.netlib.lapack.nativeLibPath=/nonexistent/liblapack.so.3");

  @TempDir Path temp;

  @Test
  void aMissingNativeBlasIsSaidOnceInOurWords() throws Exception {
    assumeTrue(isLinux(), "netlib has native code only on Linux");
    ForkedJvm.Result run = probe(MISSING);
    assertEquals(0, run.exitCode(), run.err());
    for (String line : run.errLines()) {
      assertFalse(line.contains("dlopen") || line.contains("JNI_OnLoad"), run.err());
      assertFalse(line.contains("dev.ludovic"), run.err());
    }
    List<String> said = run.errLines().stream().filter(l -> l.contains("not found")).toList();
    assertEquals(1, said.size(), run.err());
    assertTrue(
        said.get(0)
            .endsWith(
                " WARN knots-merge: Native BLAS and LAPACK not found (/nonexistent/libblas.so.3,"
                    + " /nonexistent/liblapack.so.3): the merge's linear algebra runs on netlib's"
                    + " pure-Java code, several times slower. Install libopenblas0-pthread"
                    + " (Debian/Ubuntu) or openblas (Fedora/RHEL) for native speed."),
        run.err());
  }

  @Test
  void nothingIsSaidWhenNativeCodeIsTurnedOff() throws Exception {
    List<String> options = new ArrayList<>(MISSING);
    options.add("-Ddev.ludovic.netlib.blas.allowNative=false");
    options.add("-Ddev.ludovic.netlib.lapack.allowNative=false");
    ForkedJvm.Result run = probe(options);
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.errLines().stream().noneMatch(l -> l.contains("BLAS")), run.err());
    assertTrue(run.errLines().stream().noneMatch(l -> l.contains("dlopen")), run.err());
  }

  /** allowNative=true: netlib tries the library whether it is found or not, as the user said. */
  @Test
  void anExplicitAllowNativeIsRespected() throws Exception {
    assumeTrue(isLinux(), "netlib has native code only on Linux");
    List<String> options = new ArrayList<>(MISSING);
    options.add("-Ddev.ludovic.netlib.blas.allowNative=true");
    ForkedJvm.Result run = probe(options);
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.err().contains("dlopen(/nonexistent/libblas.so.3) failed"), run.err());
    assertFalse(run.err().contains("dlopen(/nonexistent/liblapack.so.3)"), run.err());
    assertEquals(
        1, run.errLines().stream().filter(l -> l.contains("Native BLAS and LAPACK")).count());
  }

  /**
   * netlib's pure-Java LAPACK computes its machine constants lazily and without a lock; threads
   * whose first SVDs raced there hung or broke every later SVD (4 and 1 of 40 JVMs with three
   * threads). Loading the merge's linear algebra computes them, under a class initialization lock.
   */
  @Test
  void thePureJavaLapacksConstantsAreComputedBeforeAnyTaskUsesThem() throws Exception {
    List<String> options = new ArrayList<>(MISSING);
    options.add("-Ddev.ludovic.netlib.lapack.allowNative=false");
    options.add("-Dlog4j2.configurationFile=" + ForkedJvm.LOCAL_LOGGING);
    ForkedJvm.Result run = ForkedJvm.run(temp, options, LapackConstantsProbe.class.getName());
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.out().contains("constants pending: false"), run.out());
    assertFalse(run.out().startsWith("Native"), "the pure-Java LAPACK: " + run.out());
  }

  @Test
  void findsLibrariesWhereTheDynamicLinkerLooks() {
    assumeTrue(isLinux(), "the dynamic linker's search is Linux's");
    assertTrue(Netlib.linkerFinds("libc.so.6"), "the C library is in every linker cache");
    assertFalse(Netlib.linkerFinds("libknots-nonexistent.so.1"));
    assertFalse(Netlib.linkerFinds("/nonexistent/libblas.so.3"));
  }

  private ForkedJvm.Result probe(List<String> netlibOptions) throws Exception {
    List<String> options = new ArrayList<>(netlibOptions);
    options.add("-Dlog4j2.configurationFile=" + ForkedJvm.LOCAL_LOGGING);
    options.add("-Dknots.log.file=" + temp.resolve("details.log"));
    return ForkedJvm.run(temp, options, NetlibProbe.class.getName());
  }

  private static boolean isLinux() {
    return System.getProperty("os.name", "").equals("Linux");
  }
}
