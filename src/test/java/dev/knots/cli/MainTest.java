package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.Checkpoints;
import dev.knots.Fixtures;
import dev.knots.SystemProperties;
import dev.knots.io.safetensors.DType;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.spark.SparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The command line: help, dry run and every invalid option, without starting Spark. */
class MainTest {
  /** Any of these tests starting Spark is a failure: they must be decided before that. */
  private static final Supplier<SparkContext> NO_SPARK =
      () -> {
        throw new AssertionError("Spark was started");
      };

  @TempDir Path temp;

  private static MainRun run(String... args) {
    return MainRun.of(NO_SPARK, args);
  }

  private static MainRun run(SparkStart spark, String... args) {
    return MainRun.of(spark, args);
  }

  private static String twoAdapters() {
    return Fixtures.path("adapters/rot90") + "," + Fixtures.path("adapters/hflip");
  }

  @Test
  void helpDocumentsEveryOptionWithItsDefaultAndAnExample() {
    MainRun result = run("--help");
    assertEquals(0, result.code());
    for (String option :
        List.of(
            "--adapters",
            "--method",
            "--top-k",
            "--scaling",
            "--dare-drop",
            "--seed",
            "--scope",
            "--concat",
            "--output",
            "--format",
            "--base",
            "--overwrite",
            "--dry-run",
            "--skip-unsupported",
            "--finetuned",
            "--exclude",
            "--vectors",
            "--lora-rank",
            "--align-path",
            "--task-memory",
            "--driver-memory-budget")) {
      assertTrue(result.out().contains(option), option + " missing from --help");
    }
    for (String documented :
        List.of(
            "--finetuned ft/math,ft/code --base",
            "--exclude 'mlp|embed_tokens'",
            "(merge, default)",
            "--vectors base",
            "--lora-rank 64",
            "model (default with --finetuned)")) {
      assertTrue(result.out().contains(documented), documented + " missing from --help");
    }
    assertTrue(result.out().contains("default 100"), "top-k default");
    assertTrue(result.out().contains("Example: --task-memory 2g"), result.out());
    assertTrue(result.out().contains("Example: --driver-memory-budget 6g"), result.out());
    assertTrue(result.out().contains("auto (default)"), "align-path default");
    assertTrue(result.out().contains("Examples:"));
    assertTrue(result.out().contains("knots-dare-linear"), "methods listed");
    assertEquals(0, run("merge", "--help").code());
  }

  @Test
  void noArgumentsPrintsUsageAndFails() {
    MainRun result = run();
    assertEquals(2, result.code());
    assertTrue(result.out().contains("Usage"), result.out());
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "--top-k|0|--top-k",
        "--top-k|150|(0, 100]",
        "--top-k|abc|--top-k",
        "--method|knots-magic|--method",
        "--scope|layer|--scope",
        "--concat|sideways|--concat",
        "--format|zip|--format",
        "--format|model|--base",
        "--scaling|1,2,3|one per adapter",
        "--scaling|1e39|finite number of magnitude at most 3.4028235E38, float32's largest value",
        "--dare-drop|0.5|--method ties drops no entries, and --dare-drop applies only to the DARE methods",
        "--seed|x|--seed",
        "--align-path|fast|must be auto, factor, dense or distributed",
        "--task-memory|lots|--task-memory",
        "--driver-memory-budget|0g|more than 0 bytes",
        "--bogus|1|Unknown option --bogus"
      })
  void invalidOptionsFailBeforeAnyWorkNamingTheOption(String option, String value, String message) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "merge",
                "--adapters",
                twoAdapters(),
                "--method",
                "ties",
                "--output",
                temp.resolve("out").toString()));
    if (option.equals("--method")) {
      args.set(args.indexOf("ties"), value);
    } else {
      args.add(option);
      args.add(value);
    }
    MainRun result = run(args.toArray(new String[0]));
    assertEquals(2, result.code(), result.err());
    assertTrue(result.err().contains(message), result.err());
    assertFalse(Files.exists(temp.resolve("out")));
  }

  private static final String KNOTS_METHODS =
      "(knots-ta, knots-ties, knots-dare-ties, knots-dare-linear)";

  private static final String DARE_METHODS =
      "(dare-ties, dare-linear, knots-dare-ties, knots-dare-linear)";

  /** An option given that the method or the inputs would not use is refused, saying why. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "--concat with a plain method|--adapters|--method ties --concat input"
            + "|Invalid --concat input: --method ties does not align the updates, and --concat"
            + " applies only to the KnOTS methods "
            + KNOTS_METHODS
            + "; use one of them, or leave --concat out.",
        "--align-path with a plain method|--adapters|--method dare-linear --align-path factor"
            + "|Invalid --align-path factor: --method dare-linear does not align the updates, and"
            + " --align-path applies only to the KnOTS methods "
            + KNOTS_METHODS
            + "; use one of them, or leave --align-path out.",
        "--driver-memory-budget with a plain method|--adapters|--method ta"
            + " --driver-memory-budget 2g|Invalid --driver-memory-budget 2g: --method ta does not"
            + " align the updates, and --driver-memory-budget applies only to the KnOTS methods "
            + KNOTS_METHODS
            + "; use one of them, or leave --driver-memory-budget out.",
        "--dare-drop without DARE|--adapters|--method knots-ties --dare-drop 0.9"
            + "|Invalid --dare-drop 0.9: --method knots-ties drops no entries, and --dare-drop"
            + " applies only to the DARE methods "
            + DARE_METHODS
            + "; use one of them, or leave --dare-drop out.",
        "--seed without DARE|--adapters|--method ties --seed 7"
            + "|Invalid --seed 7: --method ties drops no entries, and --seed applies only to the"
            + " DARE methods "
            + DARE_METHODS
            + "; use one of them, or leave --seed out.",
        "--scope with nothing to scope|--adapters|--method knots-ta --scope module"
            + "|Invalid --scope module: --method knots-ta elects no sign and --top-k 100 prunes"
            + " nothing, so there is no threshold or majority sign to scope; give --top-k below"
            + " 100, use a TIES method, or leave --scope out.",
        "--vectors with adapters|--adapters|--method ties --vectors base"
            + "|Invalid --vectors base: applies only to full fine-tuned checkpoints (--finetuned).",
        "--base with an adapter output|--adapters|--method ties --base models/base"
            + "|Invalid --base models/base: --format adapter (the default with --adapters) writes"
            + " only the merged adapter, which does not need the base model; add --format model or"
            + " --format both to write the merged model too, or leave --base out.",
        "--base with --format adapter|--adapters|--method ties --format adapter --base m"
            + "|Invalid --base m: --format adapter writes only the merged adapter,",
        "--skip-unsupported with checkpoints|--finetuned|--method ties --base b"
            + " --skip-unsupported|Invalid --skip-unsupported with --finetuned: it applies only to"
            + " LoRA adapters (--adapters); a full fine-tuned checkpoint has no adapter tensors to"
            + " leave out.",
        "--lora-rank with a model output|--finetuned|--method ties --base b --lora-rank 8"
            + "|Invalid --lora-rank 8: --format model (the default with --finetuned) writes no"
            + " adapter, so there is no LoRA to extract; add --format adapter or --format both, or"
            + " leave --lora-rank out.",
        "an invalid value is named first|--adapters|--method ties --align-path fast"
            + "|Invalid --align-path fast: must be auto, factor, dense or distributed."
      })
  void optionsThatDoNotApplyAreRefusedNamingTheMethodOrInputs(
      String name, String inputs, String options, String message) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "merge",
                inputs,
                inputs.equals("--adapters") ? twoAdapters() : "ft1,ft2",
                "--output",
                temp.resolve("out").toString()));
    args.addAll(List.of(options.split(" ")));
    MainRun result = run(args.toArray(String[]::new));
    assertEquals(2, result.code(), result.err());
    assertTrue(result.err().startsWith("Error: " + message), result.err());
  }

  /** The same options where they apply are accepted (a dry run, so nothing is merged). */
  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "--method knots-ta --concat input --align-path dense --driver-memory-budget 2g",
    "--method dare-ties --dare-drop 0.9 --seed 7",
    "--method ties --scope module",
    "--method ta --top-k 20 --scope module",
    "--method ties --format both --base BASE"
  })
  void optionsWhereTheyApplyAreAccepted(String options) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "merge",
                "--adapters",
                twoAdapters(),
                "--output",
                temp.resolve("out").toString(),
                "--dry-run"));
    for (String option : options.split(" ")) {
      args.add(option.equals("BASE") ? Fixtures.path("base_model") : option);
    }
    MainRun result = run(args.toArray(String[]::new));
    assertEquals(0, result.code(), result.err());
  }

  /** scopt alone would call the second one an unknown option. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "--top-k 20 --top-k 30|--top-k",
        "--top-k=20 --top-k 30|--top-k",
        "--overwrite --overwrite|--overwrite",
        "--adapters a,b|--adapters",
        "--dry-run --scope module --dry-run|--dry-run"
      })
  void aRepeatedOptionIsNamedAsGivenTwice(String options, String repeated) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "merge",
                "--adapters",
                twoAdapters(),
                "--method",
                "ties",
                "--output",
                temp.resolve("out").toString()));
    args.addAll(List.of(options.split(" ")));
    MainRun result = run(args.toArray(new String[0]));
    assertEquals(2, result.code(), result.err());
    assertEquals(
        "Error: "
            + repeated
            + " was given twice; give it once"
            + System.lineSeparator()
            + "Try knots-merge --help"
            + System.lineSeparator(),
        result.err());
    assertFalse(Files.exists(temp.resolve("out")));
  }

  @Test
  void aValueThatLooksLikeAnOptionIsNoSecondOption() {
    MainRun result =
        run(
            "merge",
            "--adapters",
            twoAdapters(),
            "--method",
            "ties",
            "--output",
            "--top-k",
            "--top-k",
            "20",
            "--dry-run");
    assertFalse(result.err().contains("given twice"), result.err());
    assertFalse(result.err().contains("Unknown option"), result.err());
    assertEquals(0, run("--help", "merge", "-h").code(), "help may be asked for twice");
  }

  /**
   * A path (or a file's content) with control characters cannot forge an Error: line or colour the
   * terminal: errors show them escaped.
   */
  @Test
  void errorsShowControlCharactersEscaped() {
    String hostile = temp.resolve("a\u001b[31m\nError: forged").toString();
    MainRun result =
        run(
            "merge",
            "--adapters",
            hostile + "," + Fixtures.path("adapters/rot90"),
            "--method",
            "ties",
            "--output",
            temp.resolve("out").toString(),
            "--dry-run");
    assertEquals(1, result.code(), result.err());
    assertTrue(result.err().startsWith("Error: "), result.err());
    assertTrue(result.err().contains("a\\u001b[31m\\nError: forged"), result.err());
    assertFalse(result.err().contains("\u001b"), result.err());
    assertEquals(1, result.err().lines().filter(l -> l.startsWith("Error:")).count(), result.err());
  }

  @Test
  void theDryRunShowsPathsEscaped() throws Exception {
    Path odd = temp.resolve("rot\u001b[31m\n90");
    Files.createDirectories(odd);
    try (var files = Files.list(Path.of(Fixtures.path("adapters/rot90")))) {
      for (Path file : files.toList()) {
        Files.copy(file, odd.resolve(file.getFileName()));
      }
    }
    MainRun result =
        run(
            "merge",
            "--adapters",
            odd + "," + Fixtures.path("adapters/hflip"),
            "--method",
            "ties",
            "--output",
            temp.resolve("out").toString(),
            "--dry-run");
    assertEquals(0, result.code(), result.err());
    assertTrue(result.out().contains("adapter 0: " + temp + "/rot\\u001b[31m\\n90"), result.out());
    assertFalse(result.out().contains("\u001b"), result.out());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "--base missing|--method ties|--finetuned;--base",
        "--adapters too|--method ties --base b --adapters a1,a2|--finetuned;--adapters",
        "adapter without rank|--method ties --base b --format adapter|--format;--lora-rank",
        "both without rank|--method ties --base b --format both|--format;--lora-rank",
        "bad vectors|--method ties --base b --vectors all|--vectors;merge or base",
        "bad exclude|--method ties --base b --exclude (mlp|--exclude;regular expression",
        "rank below 1|--method ties --base b --format adapter --lora-rank 0|--lora-rank;at least 1"
      })
  void checkpointOptionsAreCheckedBeforeAnyWork(String name, String options, String messages) {
    List<String> args =
        new ArrayList<>(
            List.of("merge", "--finetuned", "ft1,ft2", "--output", temp.resolve("out").toString()));
    args.addAll(List.of(options.split(" ")));
    MainRun result = run(args.toArray(new String[0]));
    assertEquals(2, result.code(), result.err());
    for (String message : messages.split(";")) {
      assertTrue(result.err().contains(message), message + " not in: " + result.err());
    }
  }

  @Test
  void loraRankAndExcludeOnlyApplyToCheckpoints() {
    MainRun result =
        run(
            "merge",
            "--adapters",
            twoAdapters(),
            "--method",
            "ties",
            "--lora-rank",
            "8",
            "--output",
            temp.resolve("out").toString());
    assertEquals(2, result.code());
    assertTrue(
        result.err().contains("--lora-rank") && result.err().contains("--finetuned"), result.err());
  }

  @Test
  void dryRunOfCheckpointsPrintsThemAndEachModulesPath() throws Exception {
    List<String> checkpoints =
        Checkpoints.write(temp.resolve("ft"), Fixtures.path("base_model"), DType.F64);
    Path out = temp.resolve("out");
    MainRun result =
        run(
            "merge",
            "--finetuned",
            checkpoints.get(0) + "," + checkpoints.get(1),
            "--base",
            Fixtures.path("base_model"),
            "--method",
            "knots-ties",
            "--exclude",
            "embed_tokens",
            "--output",
            out.toString(),
            "--dry-run");
    assertEquals(0, result.code(), result.err());
    String plan = result.out();
    assertTrue(plan.contains("Plan: knots-ties over 2 checkpoints, 21 modules"), plan);
    assertTrue(plan.contains("checkpoint 1: " + checkpoints.get(1)), plan);
    assertTrue(plan.contains("DENSE: dense SVD of the stacked"), plan);
    assertTrue(plan.contains("layers.2.mlp.down_proj"), plan);
    assertTrue(plan.contains("layers.0.input_layernorm.weight"), plan);
    assertTrue(plan.contains("merged entry-wise with ties"), plan);
    assertTrue(plan.contains("(--exclude): 1 tensors [embed_tokens.weight]"), plan);
    assertFalse(Files.exists(out), "a dry run writes nothing");
  }

  @Test
  void aPickledCheckpointIsRefusedPointingAtSafetensors() throws Exception {
    Path pickled = Files.createDirectories(temp.resolve("pickled"));
    Files.write(pickled.resolve("pytorch_model.bin"), new byte[] {1});
    MainRun result =
        run(
            "merge",
            "--finetuned",
            pickled.toString(),
            "--base",
            Fixtures.path("base_model"),
            "--method",
            "ties",
            "--output",
            temp.resolve("out").toString(),
            "--dry-run");
    assertEquals(1, result.code());
    assertTrue(
        result.err().contains(pickled + ": it contains pickled weights (pytorch_model.bin)")
            && result.err().contains("safetensors"),
        result.err());
  }

  @Test
  void dareDropOutsideItsRangeIsRefusedForDareMethods() {
    MainRun result =
        run(
            "merge",
            "--adapters",
            twoAdapters(),
            "--method",
            "dare-ties",
            "--dare-drop",
            "1.5",
            "--output",
            temp.resolve("out").toString());
    assertEquals(2, result.code());
    assertTrue(
        result.err().contains("--dare-drop") && result.err().contains("[0, 1)"), result.err());
  }

  @Test
  void missingRequiredOptionsAreNamed() {
    MainRun result = run("merge", "--adapters", twoAdapters());
    assertEquals(2, result.code());
    assertTrue(
        result.err().contains("--method") && result.err().contains("--output"), result.err());
  }

  @Test
  void dryRunPrintsThePlanAndWritesNothing() {
    Path out = temp.resolve("out");
    MainRun result =
        run(
            "merge",
            "--adapters",
            twoAdapters(),
            "--method",
            "knots-ties",
            "--top-k",
            "20",
            "--output",
            out.toString(),
            "--dry-run");
    assertEquals(0, result.code(), result.err());
    assertTrue(
        result.out().contains("Plan: knots-ties over 2 adapters, 12 modules in 3 tasks"),
        result.out());
    assertTrue(result.out().contains("layers.0.self_attn.k_proj"), result.out());
    assertTrue(result.out().contains("ranks 8,4"), "per-adapter ranks: " + result.out());
    assertTrue(
        result.out().contains("FACTOR: LoRA factors: exact joint SVD of a 12 x 12 core"),
        result.out());
    assertFalse(Files.exists(out), "a dry run writes nothing");
  }

  @Test
  void dryRunShowsAForcedPathAndItsEstimates() {
    MainRun result = dryRunDistributed("1g");
    assertEquals(0, result.code(), result.err());
    assertTrue(
        result.out().contains("Alignment paths: forced distributed; budgets: task"), result.out());
    assertTrue(result.out().contains("driver 1.0 GiB (--driver-memory-budget 1.0 GiB)"));
    assertTrue(
        result
            .out()
            .contains(
                "DISTRIBUTED: forced by --align-path distributed: MLlib SVD of the 32 x 32 Gramian"
                    + " (M M^T, eigenvectors U, local-svd)"),
        result.out());
    assertTrue(result.out().contains("(4 modules, reads"), result.out());
  }

  @Test
  void aDistributedPlanOverTheDriverBudgetFailsNamingModuleAndOption() {
    MainRun result = dryRunDistributed("1k");
    assertEquals(1, result.code(), result.out());
    assertTrue(
        result.err().contains("Cannot align module layers.0.self_attn.k_proj of layer layers.0")
            && result.err().contains("Raise --driver-memory-budget"),
        result.err());
  }

  @Test
  void aPlanThatCannotRunFailsBeforeSparkStarts() {
    // NO_SPARK fails the test if the Spark context is asked for: the plan must be refused first.
    MainRun result = run(distributedMerge("1k"));
    assertEquals(1, result.code(), result.out());
    assertTrue(
        result.err().contains("Cannot align module layers.0.self_attn.k_proj of layer layers.0")
            && result.err().contains("Raise --driver-memory-budget"),
        result.err());
    assertFalse(Files.exists(temp.resolve("out")), "nothing written");
  }

  @Test
  @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a wait would hang
  void aPlanThatCannotRunFailsWithoutWaitingForSparkStartingInTheBackground() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch finished = new CountDownLatch(1);
    SparkStart start =
        SparkStart.inBackground(
            () -> {
              try {
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              finished.countDown();
              throw new IllegalStateException("the abandoned start finished");
            });
    // The start stays blocked until the run is over: the run must not wait for it.
    MainRun result = run(start, distributedMerge("1k"));
    assertEquals(1, finished.getCount(), "the start was still running when the plan failed");
    assertEquals(1, result.code(), result.out());
    assertTrue(result.err().contains("Raise --driver-memory-budget"), result.err());
    assertFalse(Files.exists(temp.resolve("out")), "nothing written");
    release.countDown();
    assertTrue(finished.await(10, TimeUnit.SECONDS));
  }

  private MainRun dryRunDistributed(String driverMemoryBudget) {
    List<String> args = new ArrayList<>(List.of(distributedMerge(driverMemoryBudget)));
    args.add("--dry-run");
    return run(args.toArray(String[]::new));
  }

  private String[] distributedMerge(String driverMemoryBudget) {
    return new String[] {
      "merge",
      "--adapters",
      twoAdapters(),
      "--method",
      "knots-ties",
      "--output",
      temp.resolve("out").toString(),
      "--align-path",
      "distributed",
      "--driver-memory-budget",
      driverMemoryBudget
    };
  }

  @Test
  void dryRunRefusesAnExistingOutputAsTheMergeWould() throws Exception {
    Path out = Files.createDirectories(temp.resolve("out"));
    MainRun result =
        run(
            "merge",
            "--adapters",
            twoAdapters(),
            "--method",
            "ties",
            "--output",
            out.toString(),
            "--dry-run");
    assertEquals(1, result.code());
    assertTrue(
        result.err().contains("Cannot write the merge to " + out + ": it already exists,"),
        result.err());
    assertFalse(result.err().contains("Nothing was written"), "a dry run writes nothing anyway");

    MainRun replaced =
        run(
            "merge",
            "--adapters",
            twoAdapters(),
            "--method",
            "ties",
            "--output",
            out.toString(),
            "--overwrite",
            "--dry-run");
    assertEquals(0, replaced.code(), replaced.err());
    assertTrue(
        replaced.out().contains("Output " + out + " exists and would be replaced (--overwrite)."),
        replaced.out());
    MainRun fresh =
        run(
            "merge",
            "--adapters",
            twoAdapters(),
            "--method",
            "ties",
            "--output",
            temp.resolve("new").toString(),
            "--overwrite",
            "--dry-run");
    assertFalse(fresh.out().contains("would be replaced"), fresh.out());
  }

  /**
   * A dry run against an S3 endpoint nobody listens on fails within seconds, not after s3a's two
   * minutes of retries, naming the endpoint and what to check. The timeout only guards against a
   * hang; the old code took over two minutes here.
   */
  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void aDryRunAgainstAnUnreachableS3EndpointFailsSoonNamingIt() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    String endpoint = "http://127.0.0.1:" + closedPort;
    Map<String, String> properties =
        Map.of(
            "spark.hadoop.fs.s3a.endpoint", endpoint,
            "spark.hadoop.fs.s3a.endpoint.region", "us-east-1",
            "spark.hadoop.fs.s3a.path.style.access", "true",
            "spark.hadoop.fs.s3a.aws.credentials.provider",
                "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            "spark.hadoop.fs.s3a.access.key", "test-access",
            "spark.hadoop.fs.s3a.secret.key", "test-secret");
    // the dry run takes its settings from system properties, as spark-submit sets them
    MainRun result =
        SystemProperties.with(
            properties,
            () ->
                run(
                    "merge",
                    "--adapters",
                    "s3a://knots-unreachable/a",
                    "--method",
                    "ties",
                    "--output",
                    temp.resolve("out").toString(),
                    "--dry-run"));
    assertEquals(1, result.code(), result.err());
    assertTrue(
        result
            .err()
            .contains(
                "Error: Cannot check s3a://knots-unreachable/a/adapter_model.safetensors: cannot"
                    + " connect to the S3 endpoint "
                    + endpoint
                    + " (fs.s3a.endpoint): Connection refused. Check that fs.s3a.endpoint names"
                    + " a running S3 service this machine can reach (host, port, http or https;"
                    + " fs.s3a.proxy.host for a proxy)."),
        result.err());
  }

  /** A copy of the fixture adapter {@code task} with its adapter_config.json edited. */
  private Path adapterCopy(String task, Consumer<ObjectNode> edit) throws IOException {
    Path source = Path.of(Fixtures.path("adapters/" + task));
    Path copy = Files.createDirectories(temp.resolve(task + "-copy"));
    Files.copy(
        source.resolve("adapter_model.safetensors"), copy.resolve("adapter_model.safetensors"));
    ObjectMapper json = new ObjectMapper();
    ObjectNode config = (ObjectNode) json.readTree(source.resolve("adapter_config.json").toFile());
    edit.accept(config);
    json.writeValue(copy.resolve("adapter_config.json").toFile(), config);
    return copy;
  }

  @Test
  void factorsOutsideTargetModulesAreRefusedBeforeSparkStartsOrLeftOutWithSkipUnsupported()
      throws Exception {
    Path qOnly = adapterCopy("rot90", c -> c.putArray("target_modules").add("q_proj"));
    String adapters = qOnly + "," + Fixtures.path("adapters/hflip");
    String out = temp.resolve("out").toString();
    MainRun refused = run("merge", "--adapters", adapters, "--method", "ties", "--output", out);
    assertEquals(1, refused.code(), refused.err());
    assertTrue(
        refused
            .err()
            .contains(
                "Error: Cannot open adapter "
                    + qOnly
                    + ": it uses LoRA factors of modules outside target_modules [\"q_proj\"] (9"
                    + " modules: layers.0.self_attn.k_proj, layers.0.self_attn.o_proj,"
                    + " layers.0.self_attn.v_proj and 6 more; PEFT would not apply them)"),
        refused.err());
    MainRun skipped =
        run(
            "merge",
            "--adapters",
            adapters,
            "--method",
            "ties",
            "--output",
            out,
            "--skip-unsupported",
            "--dry-run");
    assertEquals(0, skipped.code(), skipped.err());
    assertTrue(
        skipped
            .out()
            .contains(
                "warning: left out "
                    + qOnly
                    + ": Adapter "
                    + qOnly
                    + ": left out module layers.2.self_attn.v_proj, which target_modules"
                    + " [\"q_proj\"] does not select; PEFT does not apply it either."),
        skipped.out());
    assertFalse(Files.exists(Path.of(out)));
  }

  @Test
  void aLoraAlphaBeyondFloat32IsRefusedBeforeSparkStartsNamingTheAdapterAndKey() throws Exception {
    Path huge = adapterCopy("rot90", c -> c.put("lora_alpha", 1e308));
    for (boolean dryRun : new boolean[] {false, true}) {
      List<String> args =
          new ArrayList<>(
              List.of(
                  "merge",
                  "--adapters",
                  huge + "," + Fixtures.path("adapters/hflip"),
                  "--method",
                  "knots-ties",
                  "--output",
                  temp.resolve("out").toString()));
      if (dryRun) {
        args.add("--dry-run");
      }
      MainRun result = run(args.toArray(String[]::new));
      assertEquals(1, result.code(), result.err());
      assertTrue(
          result
              .err()
              .contains(
                  "Error: Cannot open adapter "
                      + huge
                      + ": module layers.0.self_attn.k_proj has a LoRA scaling of lora_alpha / r ="
                      + " 1.0E308 / 8 = 1.25E307, beyond float32's largest value (3.4028235E38), in"
                      + " which PEFT applies it: every update of the adapter would be infinite."
                      + " Correct lora_alpha in adapter_config.json."),
          result.err());
    }
  }

  @Test
  void aScalingWhoseProductWithTheLoraScalingLeavesFloat32IsRefusedBeforeSparkStarts() {
    MainRun result =
        run(
            "merge",
            "--adapters",
            twoAdapters(),
            "--method",
            "ties",
            "--scaling",
            "2e38,1",
            "--output",
            temp.resolve("out").toString());
    assertEquals(2, result.code(), result.err());
    assertTrue(
        result
            .err()
            .contains(
                "Error: Invalid --scaling 2.0E38: adapter "
                    + Fixtures.path("adapters/rot90")
                    + " has a LoRA scaling of 2.0 for module layers.0.self_attn.k_proj (from"
                    + " lora_alpha), so the merge would multiply its update by 2.0E38 x 2.0 = 4.0E38,"
                    + " beyond float32's largest value (3.4028235E38), in which the merge holds the"
                    + " updates. Give this adapter a coefficient of at most 1.7014117331926443E38 in"
                    + " magnitude."),
        result.err());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "an adapter directory as --base|--format model --base ADAPTER|Cannot open model directory"
            + " ADAPTER: it has neither model.safetensors nor model.safetensors.index.json",
        "a module the base lacks|--format model --base PARTIAL|Cannot add the merged update of"
            + " module layers.1.self_attn.q_proj to base model PARTIAL: it has no tensor"
            + " layers.1.self_attn.q_proj.weight",
        "an output inside an input|--output ADAPTER/merged|Invalid --output ADAPTER/merged: it"
            + " lies inside --adapters entry 1 (ADAPTER)",
        "an existing output|--output EXISTING|Cannot write the merge to EXISTING: it already"
            + " exists, without _SUCCESS, so it is not a complete merge",
        "a file as output|--output FILE --overwrite|Cannot write the merge to FILE: it is a file,"
            + " not a directory."
      })
  void aDryRunRefusesWhatTheMergeRefusesBeforeSparkStarts(
      String name, String options, String message) throws Exception {
    Path partial = temp.resolve("partial");
    Fixtures.writeShardedBase(
        partial, DType.F32, Long.MAX_VALUE, t -> !t.equals("layers.1.self_attn.q_proj.weight"));
    Path existing = Files.createDirectories(temp.resolve("existing"));
    Path file = Files.writeString(temp.resolve("notes.txt"), "mine");
    String adapter = Fixtures.path("adapters/rot90");
    String given =
        options
            .replace("ADAPTER", adapter)
            .replace("PARTIAL", partial.toString())
            .replace("EXISTING", existing.toString())
            .replace("FILE", file.toString());
    String expected =
        message
            .replace("ADAPTER", adapter)
            .replace("PARTIAL", partial.toString())
            .replace("EXISTING", existing.toString())
            .replace("FILE", file.toString());
    List<String> args =
        new ArrayList<>(List.of("merge", "--adapters", twoAdapters(), "--method", "ties"));
    if (!given.contains("--output")) {
      args.addAll(List.of("--output", temp.resolve("out").toString()));
    }
    args.addAll(List.of(given.split(" ")));
    MainRun merge = run(args.toArray(new String[0]));
    args.add("--dry-run");
    MainRun dryRun = run(args.toArray(new String[0]));
    for (MainRun result : List.of(merge, dryRun)) {
      assertTrue(result.err().contains("Error: " + expected), result.err());
      assertFalse(Files.exists(temp.resolve("out")));
    }
    assertEquals(merge.code(), dryRun.code(), "the same exit code");
    assertTrue(merge.code() == 1 || merge.code() == 2, merge.err());
    assertEquals("mine", Files.readString(file));
  }

  @Test
  void aRelativeOutputIsPlannedAndAnEmptyOneRefusedNamingTheOption() {
    MainRun relative =
        run("merge", "--adapters", twoAdapters(), "--method", "ties", "--output", "x", "--dry-run");
    assertEquals(0, relative.code(), relative.err());
    assertTrue(relative.out().contains("Dry run: nothing was"), relative.out());
    for (String[] empty :
        List.of(
            new String[] {"--adapters", twoAdapters(), "--output", ""},
            new String[] {"--adapters", "", "--output", temp.resolve("out").toString()},
            new String[] {"--adapters", twoAdapters() + ",", "--output", "/"})) {
      List<String> args = new ArrayList<>(List.of("merge", "--method", "ties"));
      args.addAll(List.of(empty));
      MainRun result = run(args.toArray(new String[0]));
      assertEquals(2, result.code(), result.err());
      assertTrue(
          result.err().contains("Invalid --output")
              || result.err().contains("Invalid --adapters")
              || result.err().contains("merge needs --adapters"),
          result.err());
    }
  }

  @Test
  void whatKilledRunsLeftBesideTheOutputIsNamedNotDeleted() throws Exception {
    Path staging = Files.createDirectories(temp.resolve("_out.knots-staging-0c1f"));
    MainRun result =
        run(
            "merge",
            "--adapters",
            twoAdapters(),
            "--method",
            "ties",
            "--output",
            temp.resolve("out").toString(),
            "--dry-run");
    assertEquals(0, result.code(), result.err());
    assertTrue(
        result
            .err()
            .contains(
                "Warning: beside "
                    + temp.resolve("out")
                    + " are directories that merges into it left: "
                    + staging
                    + ". None is a complete output"),
        result.err());
    assertTrue(Files.exists(staging));
  }

  @Test
  void whatKilledRunsOfASweepLeftBesideItsPointsIsNamedNotDeleted() throws Exception {
    Path out = temp.resolve("sweep");
    Path staging =
        Files.createDirectories(out.resolve("points/all/_ties_topk20_s1.knots-staging-0c1f"));
    // a run writes its sweep.yaml before any point
    Files.writeString(out.resolve("sweep.yaml"), "adapters: {}\n");
    Path config = temp.resolve("sweep.yaml");
    Files.writeString(
        config,
        String.join(
            "\n",
            "adapters:",
            "  rot90: " + Fixtures.path("adapters/rot90"),
            "  hflip: " + Fixtures.path("adapters/hflip"),
            "grid:",
            "  method: ties",
            "  top-k: 20",
            "  scaling: 1.0",
            "output: " + out,
            ""));
    MainRun result = run("sweep", "--config", config.toString(), "--dry-run");
    assertEquals(0, result.code(), result.err());
    assertTrue(
        result
            .err()
            .lines()
            .toList()
            .contains(
                "Warning: in "
                    + out
                    + " are directories that runs of this sweep left: "
                    + staging
                    + ". None is a complete point (killed runs leave them). If no other run of"
                    + " this sweep is running, they can be deleted."),
        result.err());
    assertTrue(Files.exists(staging));
  }

  @Test
  void aFailedMergeSaysAnEarlierOutputIsUntouched() throws Exception {
    Path out = Files.createDirectories(temp.resolve("out"));
    Files.writeString(out.resolve("_SUCCESS"), "merge complete\n");
    Path broken = Files.createDirectories(temp.resolve("broken"));
    Files.write(broken.resolve("adapter_model.bin"), new byte[] {1});
    MainRun result =
        run(
            "merge",
            "--adapters",
            Fixtures.path("adapters/rot90") + "," + broken,
            "--method",
            "ties",
            "--output",
            out.toString(),
            "--overwrite");
    assertEquals(1, result.code(), result.err());
    assertTrue(
        result.err().contains(out + " still holds its earlier merge, untouched."), result.err());
    assertFalse(result.err().contains("Nothing was"), result.err());
    assertTrue(Files.exists(out.resolve("_SUCCESS")));
  }

  @Test
  void aBadAdapterFailsWithTheFileNamedAndNothingPublished() throws Exception {
    Path broken = Files.createDirectories(temp.resolve("broken"));
    Files.write(broken.resolve("adapter_model.bin"), new byte[] {1});
    Files.writeString(broken.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 4}");
    MainRun result =
        run(
            "merge",
            "--adapters",
            Fixtures.path("adapters/rot90") + "," + broken,
            "--method",
            "ties",
            "--output",
            temp.resolve("out").toString(),
            "--dry-run");
    assertEquals(1, result.code());
    assertTrue(
        result.err().contains("adapter_model.bin") && result.err().contains("safetensors"),
        result.err());
  }
}
