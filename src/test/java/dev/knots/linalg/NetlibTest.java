package dev.knots.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.knots.ForkedJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On Linux x86-64 the merge's BLAS and LAPACK are the OpenBLAS the application carries, with
 * nothing said. Without native code, netlib's loader would print its own dlopen failure twice
 * (BLAS, LAPACK) on every run; the program says it once, in its words, with why. A missing library
 * is made certain by pointing netlib at a path that does not exist (its nativeLibPath properties),
 * on any machine.
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
                    + " pure-Java code, several times slower."),
        run.err());
  }

  /**
   * With no library named, the bundled OpenBLAS loads (on a machine without a system BLAS too), in
   * silence, and its SVD is the pure-Java one's: singular values and the rank-5 reconstruction
   * agree within 1e-12 relative to the largest singular value (both are backward stable; they
   * differ by rounding, about 1e-15 here).
   */
  @Test
  void theBundledOpenBlasLoadsAndAgreesWithThePureJavaCode() throws Exception {
    assumeTrue(BundledOpenBlas.fits(), "OpenBLAS is bundled for Linux x86-64");
    ForkedJvm.Result bundled = svd(List.of());
    assertEquals(0, bundled.exitCode(), bundled.err());
    List<String> out = bundled.out().lines().toList();
    assertEquals(List.of("JNIBLAS", "JNILAPACK"), out.subList(0, 2), bundled.err());
    assertTrue(bundled.errLines().stream().noneMatch(l -> l.contains(" WARN ")), bundled.err());
    assertTrue(bundled.errLines().stream().noneMatch(l -> l.contains("dlopen")), bundled.err());

    ForkedJvm.Result pureJava =
        svd(
            List.of(
                "-Ddev.ludovic.netlib.blas.allowNative=false",
                "-Ddev.ludovic.netlib.lapack.allowNative=false"));
    assertEquals(0, pureJava.exitCode(), pureJava.err());
    List<String> expected = pureJava.out().lines().toList();
    assertFalse(expected.get(0).startsWith("JNI"), expected.get(0));
    assertEquals(expected.size(), out.size());
    double largest = Double.parseDouble(expected.get(2));
    for (int i = 2; i < out.size(); i++) {
      double difference = Double.parseDouble(out.get(i)) - Double.parseDouble(expected.get(i));
      assertTrue(Math.abs(difference) <= 1e-12 * largest, "line " + i + ": " + difference);
    }
  }

  /**
   * No directory to unpack into (home and temporary directory are a file): one line says why, and
   * the merge goes on in pure Java.
   */
  @Test
  void aBundledOpenBlasThatCannotBeUnpackedIsSaidOnce() throws Exception {
    assumeTrue(BundledOpenBlas.fits(), "OpenBLAS is bundled for Linux x86-64");
    assumeTrue(System.getenv("XDG_CACHE_HOME") == null, "the cache directory is the home's");
    Path file = Files.writeString(temp.resolve("not-a-directory"), "");
    ForkedJvm.Result run = probe(List.of("-Duser.home=" + file, "-Djava.io.tmpdir=" + file));
    assertEquals(0, run.exitCode(), run.err());
    assertFalse(run.out().startsWith("JNI"), "pure Java: " + run.out());
    List<String> said = run.errLines().stream().filter(l -> l.contains(" WARN ")).toList();
    assertEquals(1, said.size(), run.err());
    assertTrue(
        said.get(0)
            .endsWith(
                " WARN knots-merge: Could not load the bundled OpenBLAS (no directory to unpack it"
                    + " into: "
                    + file
                    + "/.cache/knots-merge: not a directory; "
                    + file
                    + "/knots-merge-"
                    + System.getProperty("user.name")
                    + ": not a directory): the merge's linear algebra runs on netlib's pure-Java"
                    + " code, several times slower. Set XDG_CACHE_HOME to a directory of yours"
                    + " for native speed."),
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

  private ForkedJvm.Result svd(List<String> netlibOptions) throws Exception {
    List<String> options = new ArrayList<>(netlibOptions);
    options.add("-Dlog4j2.configurationFile=" + ForkedJvm.LOCAL_LOGGING);
    options.add("-Dknots.log.file=" + temp.resolve("details.log"));
    return ForkedJvm.run(temp, options, SvdProbe.class.getName());
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
