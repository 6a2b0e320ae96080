package dev.knots;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the layering true: packages depend one way, {@code cli -> {spark, sweep} -> job -> {plan,
 * knots, merge, io} -> linalg}, and only {@code io.hadoop}, {@code spark} and {@code cli} may touch
 * Spark, Hadoop, Scala or scopt, so the merge core runs and is tested without an engine, and a
 * change to the engine or the command line cannot reach the numerics. Every package has its place:
 * one the table does not know fails the test, and no package imports the benchmark.
 */
class ArchitectureTest {
  private static final Path SOURCES = Path.of("src/main/java/dev/knots");

  /** The benchmark harness: test scope, so that the application jar holds none of it. */
  private static final Path TEST_SOURCES = Path.of("src/test/java/dev/knots");

  private static final Path BENCHMARK = TEST_SOURCES.resolve("bench");
  private static final Pattern IMPORT =
      Pattern.compile("^import (?:static )?([\\w.]+)", Pattern.MULTILINE);
  private static final Set<String> ENGINE_FREE =
      Set.of("linalg", "io", "io.safetensors", "io.peft", "knots", "merge", "plan", "job", "sweep");
  private static final List<String> ENGINE_PREFIXES =
      List.of("org.apache.spark.", "org.apache.hadoop.", "scala.", "scopt.");

  /** The project packages each package may import, besides itself. */
  private static final Map<String, Set<String>> ALLOWED =
      Map.ofEntries(
          Map.entry("linalg", Set.<String>of()),
          Map.entry("knots", Set.of("linalg")),
          Map.entry("merge", Set.of("linalg")),
          Map.entry("io", Set.<String>of()),
          Map.entry("io.safetensors", Set.of("io")),
          Map.entry("io.peft", Set.of("io", "io.safetensors")),
          Map.entry("io.hadoop", Set.of("io")),
          Map.entry("plan", Set.of("linalg", "io", "io.safetensors", "io.peft", "knots", "merge")),
          Map.entry("job", withCore()),
          Map.entry("sweep", withCore("job")),
          Map.entry("spark", withCore("job", "io.hadoop")),
          Map.entry("cli", withCore("job", "io.hadoop", "spark", "sweep")),
          // the benchmark drives the job as the command line does, and nothing depends on it
          Map.entry("bench", withCore("job", "io.hadoop", "spark", "sweep")));

  @Test
  void theMergeCoreImportsNoEngineClass() {
    List<String> violations = new ArrayList<>();
    for (Path file : javaFiles()) {
      String pkg = packageOf(file);
      if (!ENGINE_FREE.contains(pkg)) {
        continue;
      }
      for (String imported : imports(file)) {
        if (ENGINE_PREFIXES.stream().anyMatch(imported::startsWith)) {
          violations.add(file + " imports " + imported);
        }
      }
    }
    assertEquals(List.of(), violations, "engine classes in the merge core");
  }

  @Test
  void packagesDependOneWay() {
    List<String> violations = new ArrayList<>();
    for (Path file : javaFiles()) {
      String pkg = packageOf(file);
      Set<String> allowed = ALLOWED.get(pkg);
      if (allowed == null) {
        violations.add(file + ": package " + pkg + " has no place in the layering");
        continue;
      }
      for (String imported : imports(file)) {
        if (!imported.startsWith("dev.knots.")) {
          continue;
        }
        String target = packageOfClass(imported.substring("dev.knots.".length()));
        if (!target.equals(pkg) && !allowed.contains(target)) {
          violations.add(file + " (" + pkg + ") imports " + imported);
        }
      }
    }
    assertEquals(List.of(), violations, "imports against the layering");
  }

  /** The core packages and {@code more}: what the packages from job up may import. */
  private static Set<String> withCore(String... more) {
    Set<String> packages =
        new java.util.HashSet<>(
            Set.of("linalg", "io", "io.safetensors", "io.peft", "knots", "merge", "plan"));
    packages.addAll(List.of(more));
    return Set.copyOf(packages);
  }

  @Test
  void theApplicationHoldsNoBenchmark() {
    assertFalse(Files.exists(SOURCES.resolve("bench")), "the benchmark belongs to test scope");
    assertTrue(javaFilesUnder(BENCHMARK).size() > 5, "no benchmark found under " + BENCHMARK);
  }

  @Test
  void theCheckSeesTheSources() {
    assertTrue(javaFiles().size() > 10, "no sources found under " + SOURCES.toAbsolutePath());
  }

  /** The application's sources and the benchmark's. */
  private static List<Path> javaFiles() {
    List<Path> files = new ArrayList<>(javaFilesUnder(SOURCES));
    files.addAll(javaFilesUnder(BENCHMARK));
    return files;
  }

  private static List<Path> javaFilesUnder(Path root) {
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(p -> p.toString().endsWith(".java")).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String packageOf(Path file) {
    Path root = file.startsWith(BENCHMARK) ? TEST_SOURCES : SOURCES;
    return root.relativize(file.getParent()).toString().replace('/', '.');
  }

  /** The package part of {@code a.b.Type.member}: the segments before the first capitalised one. */
  private static String packageOfClass(String qualified) {
    List<String> segments = new ArrayList<>();
    for (String segment : qualified.split("\\.")) {
      if (Character.isUpperCase(segment.charAt(0))) {
        break;
      }
      segments.add(segment);
    }
    return String.join(".", segments);
  }

  private static List<String> imports(Path file) {
    try {
      Matcher m = IMPORT.matcher(Files.readString(file));
      List<String> found = new ArrayList<>();
      while (m.find()) {
        found.add(m.group(1));
      }
      return found;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
