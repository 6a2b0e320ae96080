package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.ForkedJvm;
import dev.knots.io.FileStore;
import dev.knots.io.LocalFileStore;
import dev.knots.io.Storage;
import dev.knots.io.hadoop.HadoopFileStore;
import dev.knots.io.hadoop.MiniHdfs;
import dev.knots.job.OutputCommit;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code scripts/knots-merge} as users run it. An output over the inputs is refused whatever its
 * spelling, and every adapter is left as it was. Two processes writing one output at once, on local
 * disk and on HDFS, over several rounds: afterwards the output is a complete merge of one of the
 * two runs (byte for byte what that run writes alone), every run that said "Merged" exited 0, a
 * loser exited 1 with a message naming the output, and nothing is left beside the output. The two
 * runs differ in {@code --scaling}, so the output tells which one won. The runs start together and
 * do the same work, so their commits fall within moments of each other; {@code OutputCommitTest}
 * drives the exact interleavings one by one.
 */
class OutputSafetyProcessTest {
  private static final Path ROOT = Path.of("").toAbsolutePath();
  private static final String ADAPTERS = "examples/digits/adapters/";
  private static final String[] SCALINGS = {"0.5", "1.0"};

  @TempDir static Path temp;
  private static MiniHdfs hdfs;
  private static final byte[][] EXPECTED = new byte[2][];

  @BeforeAll
  static void mergeEachAlone() throws Exception {
    for (int run = 0; run < 2; run++) {
      Path alone = temp.resolve("alone-" + run);
      ForkedJvm.Result result =
          start(temp, alone.toString(), run, false).finish(5, TimeUnit.MINUTES);
      assertEquals(0, result.exitCode(), result.err());
      EXPECTED[run] = Files.readAllBytes(alone.resolve("adapter_model.safetensors"));
    }
    hdfs = MiniHdfs.start();
  }

  @AfterAll
  static void stop() {
    if (hdfs != null) {
      hdfs.close();
    }
  }

  @Test
  void anOutputOverTheInputsIsRefusedAndEveryAdapterKept() throws Exception {
    Path work = Files.createDirectories(temp.resolve("refused"));
    Path adapters = work.resolve("A");
    copyTree(ROOT.resolve(ADAPTERS), adapters);
    Map<String, byte[]> before = contents(adapters);
    for (String output : List.of("A", "A/rot90", "./A/../A/rot90/", "A/hflip/merged", ".")) {
      ForkedJvm.Result run =
          knotsMerge(
                  work,
                  List.of(
                      "merge",
                      "--adapters",
                      "A/rot90,A/hflip",
                      "--method",
                      "ties",
                      "--output",
                      output,
                      "--overwrite"))
              .finish(5, TimeUnit.MINUTES);
      assertEquals(2, run.exitCode(), output + ": " + run.err());
      assertTrue(run.err().contains("Error: Invalid --output " + output + ": "), run.err());
      assertEquals(before.keySet(), contents(adapters).keySet(), output);
      contents(adapters).forEach((file, bytes) -> assertArrayEquals(before.get(file), bytes, file));
    }
  }

  @Test
  void racingRunsLeaveOneCompleteMergeOnLocalDisk() throws Exception {
    Path parent = Files.createDirectories(temp.resolve("local"));
    // a relative --output, resolved against the runs' working directory
    race(new LocalFileStore(), parent, "merged", parent.resolve("merged").toString(), 3);
  }

  @Test
  void racingRunsLeaveOneCompleteMergeOnHdfs() throws Exception {
    String output = hdfs.uri("/merges/merged");
    race(new HadoopFileStore(hdfs.configuration()), temp, output, output, 2);
  }

  /**
   * Round 0 starts with no output, both runs without --overwrite: one wins. Later rounds start from
   * the earlier round's complete output, both runs with --overwrite.
   */
  private static void race(
      FileStore store, Path workingDirectory, String given, String output, int rounds)
      throws Exception {
    for (int round = 0; round < rounds; round++) {
      boolean overwrite = round > 0;
      ForkedJvm.Started first = start(workingDirectory, given, 0, overwrite);
      ForkedJvm.Started second = start(workingDirectory, given, 1, overwrite);
      ForkedJvm.Result[] runs = {
        first.finish(5, TimeUnit.MINUTES), second.finish(5, TimeUnit.MINUTES)
      };
      String context = "round " + round + ":\n" + runs[0].err() + "\n---\n" + runs[1].err();
      int succeeded = 0;
      for (ForkedJvm.Result run : runs) {
        assertTrue(run.exitCode() == 0 || run.exitCode() == 1, context);
        assertFalse(run.err().contains("\tat "), "no stack trace: " + context);
        if (run.exitCode() == 0) {
          succeeded++;
          assertTrue(run.out().contains("Merged 2 adapters"), context);
        } else {
          assertTrue(run.err().contains("Error: Cannot write the merge to " + given), context);
          assertTrue(
              run.err().contains("another run wrote it while this one was running")
                  || run.err().contains("it already exists."),
              context);
        }
      }
      assertEquals(overwrite ? 2 : 1, succeeded, context);
      assertTrue(store.exists(store.resolve(output, OutputCommit.SUCCESS)), context);
      assertTrue(store.exists(store.resolve(output, "adapter_config.json")), context);
      byte[] weights =
          Storage.readAll(
              store.inputFile(store.resolve(output, "adapter_model.safetensors")),
              Integer.MAX_VALUE);
      String report =
          new String(
              Storage.readAll(store.inputFile(store.resolve(output, "merge_report.json")), 1 << 24),
              StandardCharsets.UTF_8);
      int winner = Arrays.equals(weights, EXPECTED[0]) ? 0 : 1;
      assertArrayEquals(EXPECTED[winner], weights, "the weights of one run: " + context);
      assertTrue(
          report.replaceAll("\\s", "").contains("\"scaling\":[" + SCALINGS[winner] + "]"),
          "the report of the same run: " + report);
      String name = output.substring(output.lastIndexOf('/') + 1);
      String parent = output.substring(0, output.lastIndexOf('/'));
      assertEquals(
          List.of(),
          store.list(parent).stream().filter(n -> n.startsWith("_" + name)).toList(),
          "nothing left beside the output: " + context);
    }
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path file : files.toList()) {
        Files.copy(file, to.resolve(from.relativize(file).toString()));
      }
    }
  }

  /** Every file under {@code root} by relative path, with its bytes. */
  private static Map<String, byte[]> contents(Path root) throws IOException {
    Map<String, byte[]> files = new TreeMap<>();
    try (Stream<Path> all = Files.walk(root)) {
      for (Path file : all.filter(Files::isRegularFile).toList()) {
        files.put(root.relativize(file).toString(), Files.readAllBytes(file));
      }
    }
    return files;
  }

  /** Starts one of the two racing merges, {@code run} 0 or 1, into {@code output}. */
  private static ForkedJvm.Started start(Path directory, String output, int run, boolean overwrite)
      throws IOException {
    List<String> args =
        new ArrayList<>(
            List.of(
                "merge",
                "--adapters",
                ROOT.resolve(ADAPTERS + "rot90") + "," + ROOT.resolve(ADAPTERS + "hflip"),
                "--method",
                "ties",
                "--top-k",
                "20",
                "--scaling",
                SCALINGS[run],
                "--output",
                output));
    if (overwrite) {
      args.add("--overwrite");
    }
    return knotsMerge(directory, args);
  }

  /** Starts {@code scripts/knots-merge args} in {@code directory}. */
  private static ForkedJvm.Started knotsMerge(Path directory, List<String> args)
      throws IOException {
    List<String> command = new ArrayList<>(List.of(ROOT.resolve("scripts/knots-merge").toString()));
    command.addAll(args);
    return ForkedJvm.start(directory, command, Map.of("KNOTS_DRIVER_MEMORY", "1g"));
  }
}
