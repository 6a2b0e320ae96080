package dev.knots;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Functions of scripts/lib/build.sh that scripts/knots-merge starts the local driver with:
 * knots_megabytes and knots_heap_flags size its initial heap and young generation (a size they
 * misread would start the JVM with wrong flags, or none); knots_join_classpaths makes its
 * classpath; knots_classes_jar and the knots_class_archive functions decide which class-data
 * archive it records or maps.
 */
class BuildHelpersTest {
  @ParameterizedTest
  @CsvSource({
    "4g, 4096",
    "4G, 4096",
    "3072m, 3072",
    "512M, 512",
    "4194304k, 4096",
    "1t, 1048576",
    "1073741824, 1024",
    "4gb, ",
    "four, ",
    "-1g, ",
    "'', "
  })
  void readsTheJvmsMemorySizes(String size, String megabytes) throws Exception {
    Result bash = call("knots_megabytes", size);
    if (megabytes == null) {
      assertEquals(1, bash.exitValue(), "'" + size + "' is no size: " + bash.output());
      assertEquals("", bash.output(), size);
    } else {
      assertEquals(0, bash.exitValue(), bash.output());
      assertEquals(megabytes, bash.output().strip(), size);
    }
  }

  @ParameterizedTest
  @CsvSource({
    "4g, -Xms3072m -XX:MaxNewSize=256m",
    "64g, -Xms49152m -XX:MaxNewSize=4096m",
    "512m, -Xms384m -XX:MaxNewSize=64m",
    "four, "
  })
  void sizesTheHeapFromTheDriverMemory(String size, String flags) throws Exception {
    Result bash = call("knots_heap_flags", size);
    assertEquals(0, bash.exitValue(), bash.output());
    assertEquals(flags == null ? "" : flags, bash.output().strip(), size);
  }

  /**
   * Maven writes a classpath file without a final newline: joining two such files must not run the
   * last jar of one and the first of the next together (that lost json4s-scalap from the local
   * driver's classpath until it was found).
   */
  @Test
  void joinsClasspathFilesWithoutLosingTheJarsWhereTheyMeet(@TempDir Path dir) throws Exception {
    Path compile = dir.resolve("classpath-compile.txt");
    Path runtime = dir.resolve("classpath-runtime.txt");
    Files.writeString(compile, "/m2/spark-core.jar:/m2/scala-library.jar:/m2/json4s-scalap.jar");
    Files.writeString(runtime, "/m2/aws-xml-protocol.jar:/m2/scala-library.jar:/m2/netty.jar");

    Result bash = call("knots_join_classpaths", compile.toString(), runtime.toString());

    assertEquals(0, bash.exitValue(), bash.output());
    assertEquals(
        "/m2/spark-core.jar:/m2/scala-library.jar:/m2/json4s-scalap.jar:/m2/aws-xml-protocol.jar"
            + ":/m2/netty.jar",
        bash.output().strip());
  }

  /**
   * The run that records the class-data archive must load what a merge loads: a merge that starts
   * Spark, as dev.knots.cli.SparkStart.needed decides, and not a help or dry-run command.
   */
  @ParameterizedTest
  @CsvSource({
    "'merge --adapters a,b --method ta --output o', 0",
    "'merge --adapters a,b --method ta --output o --dry-run', 1",
    "'merge --help', 1",
    "'merge -h', 1",
    "'--help', 1",
    "'', 1"
  })
  void onlyAMergeThatStartsSparkRecordsTheClassArchive(String commandLine, int exitValue)
      throws Exception {
    String[] arguments = commandLine.isEmpty() ? new String[0] : commandLine.split(" ");
    assertEquals(
        exitValue, call("knots_records_class_archive", arguments).exitValue(), commandLine);
  }

  @Test
  void theClassArchiveIsNamedForTheClasspathAndUsedOnlyWhenNewerThanItsJars(@TempDir Path root)
      throws Exception {
    String archive = callIn(root, "knots_class_archive", "/m2/a.jar:/m2/b.jar").output().strip();
    assertTrue(
        archive.startsWith(root.resolve("target/class-data").toString())
            && archive.endsWith(".jsa"),
        archive);
    assertEquals(
        archive, callIn(root, "knots_class_archive", "/m2/a.jar:/m2/b.jar").output().strip());
    assertNotEquals(
        archive, callIn(root, "knots_class_archive", "/m2/b.jar:/m2/a.jar").output().strip());

    Path classes = Files.createDirectories(root.resolve("target")).resolve("knots-classes.jar");
    Path classpath = root.resolve("target/classpath.txt");
    Path file = Files.createDirectories(Path.of(archive).getParent()).resolve("a.jsa");
    Files.writeString(classes, "jar");
    Files.writeString(classpath, "/m2/a.jar");
    Files.writeString(file, "archive");
    FileTime older = FileTime.from(Instant.now().minusSeconds(60));
    Files.setLastModifiedTime(classes, older);
    Files.setLastModifiedTime(classpath, older);
    assertEquals(0, callIn(root, "knots_class_archive_fresh", file.toString()).exitValue());

    Files.setLastModifiedTime(classes, FileTime.from(Instant.now().plusSeconds(60)));
    assertEquals(
        1,
        callIn(root, "knots_class_archive_fresh", file.toString()).exitValue(),
        "the classes were packed again after it");
    Files.setLastModifiedTime(classes, older);
    Files.setLastModifiedTime(classpath, FileTime.from(Instant.now().plusSeconds(60)));
    assertEquals(
        1,
        callIn(root, "knots_class_archive_fresh", file.toString()).exitValue(),
        "the Maven classpath changed after it");
    Files.setLastModifiedTime(classpath, older);
    Files.writeString(file, "");
    assertEquals(
        1, callIn(root, "knots_class_archive_fresh", file.toString()).exitValue(), "empty");
  }

  @Test
  void packsTheClassesIntoOneJarAgainOnlyWhenAClassIsNewer(@TempDir Path root) throws Exception {
    Path clazz = Files.createDirectories(root.resolve("target/classes/dev/x")).resolve("A.class");
    Files.writeString(clazz, "first");
    Files.setLastModifiedTime(clazz, FileTime.from(Instant.now().minusSeconds(60)));

    Result packed = callIn(root, "knots_classes_jar");
    assertEquals(0, packed.exitValue(), packed.output());
    Path jar = Path.of(packed.output().strip());
    assertEquals(root.resolve("target/knots-classes.jar"), jar);
    assertEquals("first", entry(jar, "dev/x/A.class"));

    FileTime packedAt = Files.getLastModifiedTime(jar);
    assertEquals(0, callIn(root, "knots_classes_jar").exitValue());
    assertEquals(packedAt, Files.getLastModifiedTime(jar), "nothing newer: not packed again");

    Files.writeString(clazz, "second");
    Files.setLastModifiedTime(clazz, FileTime.from(Instant.now().plusSeconds(60)));
    assertEquals(0, callIn(root, "knots_classes_jar").exitValue());
    assertEquals("second", entry(jar, "dev/x/A.class"));
  }

  private static String entry(Path jar, String name) throws IOException {
    try (ZipFile zip = new ZipFile(jar.toFile())) {
      return new String(
          zip.getInputStream(zip.getEntry(name)).readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** scripts/knots-merge gives each local run its own details log (conf/log4j2.properties). */
  @Test
  void eachLocalRunHasItsOwnDetailsLog() throws Exception {
    String name = "/knots-merge-\\d{8}-\\d{6}-\\d+\\.log";
    Result chosen = call("KNOTS_LOG_DIR=/x/logs TMPDIR=/y knots_log_file");
    assertEquals(0, chosen.exitValue(), chosen.output());
    assertTrue(chosen.output().strip().matches("/x/logs" + name), chosen.output());
    Result temporary = call("unset KNOTS_LOG_DIR; TMPDIR=/y knots_log_file");
    assertTrue(temporary.output().strip().matches("/y" + name), temporary.output());
    Result fallback = call("unset KNOTS_LOG_DIR TMPDIR; knots_log_file");
    assertTrue(fallback.output().strip().matches("/tmp" + name), fallback.output());
  }

  private record Result(int exitValue, String output) {}

  /** Runs {@code function} of scripts/lib/build.sh on {@code arguments}. */
  private static Result call(String function, String... arguments) throws Exception {
    return callIn(null, function, arguments);
  }

  /** As {@link #call}, with KNOTS_ROOT set to {@code root} (null: the project's own). */
  private static Result callIn(Path root, String function, String... arguments) throws Exception {
    List<String> command =
        new ArrayList<>(
            List.of("bash", "-c", ". scripts/lib/build.sh && " + function + " \"$@\"", "test"));
    command.addAll(List.of(arguments));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    if (root != null) {
      builder.environment().put("KNOTS_ROOT", root.toString());
    }
    Process bash = builder.start();
    String output = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(bash.waitFor(30, TimeUnit.SECONDS), "bash did not exit");
    return new Result(bash.exitValue(), output);
  }
}
