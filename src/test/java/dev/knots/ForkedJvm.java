package dev.knots;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A main class run in a JVM of its own, with the test classpath and this JVM's module options (the
 * pom's spark.jvm.flags), for what only a fresh process shows: what reaches its stdout and stderr,
 * the logging configuration it starts with, native libraries it loads.
 */
public final class ForkedJvm {

  /** The process's exit code and everything it wrote. */
  public record Result(int exitCode, String out, String err) {
    /** The stderr lines. */
    public List<String> errLines() {
      return err.lines().toList();
    }
  }

  /** conf/log4j2.properties, the logging configuration of scripts/knots-merge's local mode. */
  public static final Path LOCAL_LOGGING = Path.of("conf/log4j2.properties").toAbsolutePath();

  private ForkedJvm() {}

  /**
   * Runs {@code mainClass} with {@code options} (system properties and the like) and {@code args},
   * its output captured in files under {@code directory}, and waits for it.
   */
  public static Result run(Path directory, List<String> options, String mainClass, String... args)
      throws IOException, InterruptedException {
    // a timeout only against a hang, which would otherwise stall the build
    return start(directory, java(options, mainClass, args), Map.of()).finish(10, TimeUnit.MINUTES);
  }

  /**
   * The command that runs {@code mainClass} with {@code options} and {@code args} on the test
   * classpath, with this JVM's module options; {@link #start} starts it.
   */
  public static List<String> java(List<String> options, String mainClass, String... args) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(moduleOptions());
    command.addAll(options);
    command.add("-cp");
    command.add(String.join(File.pathSeparator, classpath()));
    command.add(mainClass);
    command.addAll(List.of(args));
    return command;
  }

  /** The test classpath's entries (surefire runs the tests through a manifest-only jar). */
  public static List<String> classpath() {
    return List.of(
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"))
            .split(File.pathSeparator));
  }

  /**
   * Starts {@code command} in {@code directory} with {@code environment} added to this one's, its
   * output going to files under {@code directory}; {@link Started#finish} waits for it.
   */
  public static Started start(Path directory, List<String> command, Map<String, String> environment)
      throws IOException {
    Path out = Files.createTempFile(directory, "stdout", ".txt");
    Path err = Files.createTempFile(directory, "stderr", ".txt");
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .directory(directory.toFile())
            .redirectOutput(out.toFile())
            .redirectError(err.toFile());
    builder.environment().putAll(environment);
    return new Started(command, builder.start(), out, err);
  }

  /** A process started by {@link #start}. */
  public record Started(List<String> command, Process process, Path out, Path err) {
    /** Waits for the process, at most {@code timeout}, and returns what it did. */
    public Result finish(long timeout, TimeUnit unit) throws IOException, InterruptedException {
      if (!process.waitFor(timeout, unit)) {
        process.destroyForcibly();
        throw new AssertionError(
            "the process did not end in " + timeout + " " + unit + ": " + command);
      }
      return new Result(
          process.exitValue(),
          Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    }

    /**
     * Kills the process and every process it started (Spark's executors, say) at once, as a machine
     * that fails or {@code kill -9} would, and waits until they are gone.
     */
    public void kill() throws InterruptedException, ExecutionException {
      List<ProcessHandle> started = process.descendants().toList();
      process.destroyForcibly();
      started.forEach(ProcessHandle::destroyForcibly);
      process.onExit().get();
      for (ProcessHandle child : started) {
        child.onExit().get();
      }
    }
  }

  /** The options of this JVM that open modules to Spark and netlib (surefire's argLine). */
  private static List<String> moduleOptions() {
    return ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(
            a ->
                a.startsWith("--add-")
                    || a.startsWith("--enable-native-access")
                    || a.startsWith("--sun-misc")
                    || a.startsWith("-XX:+IgnoreUnrecognizedVMOptions")
                    || a.startsWith("-Dio.netty"))
        .toList();
  }
}
