package dev.knots.cli;

import dev.knots.io.peft.LoraAdapter.UnsupportedTensors;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.plan.PathRequest;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import scala.collection.immutable.ArraySeq;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.BoxedUnit;
import scopt.DefaultOEffectSetup;
import scopt.OParser;
import scopt.OParserBuilder;
import scopt.OptionDef;
import scopt.Read;

/** The command line: the only class that knows scopt. */
final class Cli {
  static final String PROGRAM = "knots-merge";

  @SuppressWarnings("unchecked")
  private static final Read<Double> DOUBLE = (Read<Double>) (Read<?>) Read.doubleRead();

  @SuppressWarnings("unchecked")
  private static final Read<Long> LONG = (Read<Long>) (Read<?>) Read.longRead();

  private static final Read<String> STRING = Read.stringRead();
  private static final Read<BoxedUnit> FLAG = Read.unitRead();
  private static final Read<scala.collection.Seq<String>> STRINGS = Read.seqRead(Read.stringRead());

  @SuppressWarnings("unchecked")
  private static final Read<scala.collection.Seq<Double>> DOUBLES =
      Read.seqRead((Read<Double>) (Read<?>) Read.doubleRead());

  private Cli() {}

  /**
   * Parses {@code args}; returns the command, or empty after printing help (to {@code out}) or an
   * error with a pointer to {@code --help} (to {@code err}).
   */
  static Optional<MergeCommand> parse(String[] args, PrintStream out, PrintStream err) {
    OParser<?, MergeCommand> parser = parser();
    Effects effects = new Effects(out, err);
    Optional<String> repeated = repeatedOption(parser, args);
    if (repeated.isPresent()) {
      effects.reportError(repeated.get() + " was given twice; give it once");
      return Optional.empty();
    }
    scala.Option<MergeCommand> parsed =
        OParser.parse(parser, seq(args), new MergeCommand(), effects);
    if (parsed.isEmpty()) {
      return Optional.empty();
    }
    MergeCommand command = parsed.get();
    if (command.help || !(command.merge || command.sweep)) {
      out.println(usage());
      return Optional.empty();
    }
    return Optional.of(command);
  }

  /**
   * The first option given more than once (as {@code --name}), which scopt would report as an
   * unknown option. The arguments are split into options and their values as scopt splits them, so
   * a value that looks like an option ({@code --exclude --top-k}) is no second option. {@code
   * --help} may be repeated.
   */
  private static Optional<String> repeatedOption(OParser<?, MergeCommand> parser, String[] args) {
    List<OptionDef<?, MergeCommand>> options =
        CollectionConverters.asJava(parser.toList()).stream().filter(OptionDef::isOptLike).toList();
    Set<String> given = new HashSet<>();
    int i = 0;
    while (i < args.length) {
      int tokens = 1;
      for (OptionDef<?, MergeCommand> option : options) {
        int read = Math.max(option.longOptTokens(args[i]), option.shortOptTokens(args[i]));
        if (read > 0) {
          if (!option.name().equals("help") && !given.add(option.name())) {
            return Optional.of(option.fullName());
          }
          tokens = read;
          break;
        }
      }
      i += tokens;
    }
    return Optional.empty();
  }

  static String usage() {
    return OParser.usage(parser(), scopt.RenderingMode.TwoColumns$.MODULE$);
  }

  private static OParser<?, MergeCommand> parser() {
    OParserBuilder<MergeCommand> b = OParser.builder();
    return OParser.sequence(
        b.programName(PROGRAM),
        seq(
            b.head(seq(PROGRAM, "- merge LoRA adapters with KnOTS and classic baselines on Spark")),
            b.opt("help", FLAG)
                .abbr("h")
                .action((x, c) -> set(c, () -> c.help = true))
                .text("print this help and exit"),
            b.note(""),
            b.cmd("merge")
                .action((x, c) -> set(c, () -> c.merge = true))
                .text("Merge adapters and write a merged adapter and/or model.")
                .children(seq(mergeOptions(b))),
            b.note(""),
            b.cmd("sweep")
                .action((x, c) -> set(c, () -> c.sweep = true))
                .text(
                    "Merge many combinations of adapters at many hyperparameter points in one"
                        + " application, as a sweep file describes, and write a results table.")
                .children(seq(sweepOptions(b))),
            b.note(examples()),
            b.checkConfig(
                c ->
                    !c.help && c.sweep && c.config == null
                        ? b.failure("sweep needs --config <file.yaml> (see --help)")
                        : b.success()),
            b.checkConfig(
                c ->
                    !c.help
                            && c.merge
                            && (c.method == null
                                || c.output == null
                                || (c.adapters.isEmpty() && c.finetuned.isEmpty()))
                        ? b.failure(
                            "merge needs --adapters (or --finetuned with --base), --method and"
                                + " --output (see --help)")
                        : b.success())));
  }

  @SuppressWarnings("unchecked")
  private static OParser<?, MergeCommand>[] mergeOptions(OParserBuilder<MergeCommand> b) {
    List<OParser<?, MergeCommand>> options = new ArrayList<>();
    options.add(
        b.opt("adapters", STRINGS)
            .valueName("<uri>,<uri>,...")
            .action(
                (x, c) ->
                    set(c, () -> c.adapters = new ArrayList<>(CollectionConverters.asJava(x))))
            .text(
                "adapter directories (PEFT: adapter_config.json + adapter_model.safetensors), in task"
                    + " order; plain paths, file://, hdfs:// or s3a://. Required unless --finetuned"
                    + " is given."));
    options.add(
        b.opt("finetuned", STRINGS)
            .valueName("<uri>,<uri>,...")
            .action(
                (x, c) ->
                    set(c, () -> c.finetuned = new ArrayList<>(CollectionConverters.asJava(x))))
            .text(
                "instead of --adapters: full fine-tuned Hugging Face models (model.safetensors, or"
                    + " shards + model.safetensors.index.json) of the --base model, in task order;"
                    + " each task's update is finetuned - base. Needs --base. No default. Example:"
                    + " --finetuned ft/math,ft/code --base models/llama"));
    options.add(
        b.opt("exclude", STRING)
            .valueName("<regex>")
            .action((x, c) -> set(c, () -> c.exclude = x))
            .text(
                "with --finetuned: tensors whose name this regular expression finds are taken from"
                    + " the base unchanged; default none. Example: --exclude 'mlp|embed_tokens'"));
    options.add(
        b.opt("vectors", STRING)
            .valueName("merge|base")
            .action((x, c) -> set(c, () -> c.vectors = x))
            .text(
                "with --finetuned: floating tensors that are not 2-D weights (norms, biases) are"
                    + " merged by the method's plain counterpart, each tensor on its own (merge,"
                    + " default), or taken from the base (base). Example: --vectors base"));
    options.add(
        b.opt("lora-rank", LONG)
            .valueName("<r>")
            .action((x, c) -> set(c, () -> c.loraRank = x))
            .text(
                "with --finetuned and --format adapter or both: the rank of the LoRA adapter"
                    + " extracted from the merged update (truncated SVD per module); no default,"
                    + " required then. Example: --lora-rank 64"));
    options.add(
        b.opt("method", STRING)
            .valueName("<name>")
            .action((x, c) -> set(c, () -> c.method = x))
            .text("merge method, one of: " + methodList() + ". Required."));
    options.add(
        b.opt("top-k", DOUBLE)
            .valueName("<percent>")
            .action((x, c) -> set(c, () -> c.topK = x))
            .text(
                "percent of each task's entries kept by magnitude, in (0, 100]; default "
                    + trim(MergeParameters.DEFAULT_TOP_K)
                    + " (keep all). Example: --top-k 20"));
    options.add(
        b.opt("scaling", DOUBLES)
            .valueName("<x>[,<x>...]")
            .action(
                (x, c) -> set(c, () -> c.scaling = new ArrayList<>(CollectionConverters.asJava(x))))
            .text(
                "scaling coefficient lambda: one for all adapters or one per adapter; default "
                    + trim(MergeParameters.DEFAULT_SCALING)
                    + ". Example: --scaling 0.6"));
    options.add(
        b.opt("dare-drop", DOUBLE)
            .valueName("<p>")
            .action((x, c) -> set(c, () -> c.dareDrop = x))
            .text(
                "DARE drop rate in [0, 1), for dare-* methods; default "
                    + MergeParameters.DEFAULT_DARE_DROP
                    + ". Example: --dare-drop 0.9"));
    options.add(
        b.opt("seed", LONG)
            .valueName("<n>")
            .action((x, c) -> set(c, () -> c.seed = x))
            .text(
                "seed of DARE's masks (with the adapter index and module name); default "
                    + MergeParameters.DEFAULT_SEED));
    options.add(
        b.opt("scope", STRING)
            .valueName("global|module")
            .action((x, c) -> set(c, () -> c.scope = x))
            .text(
                "TIES threshold and majority sign over all modules of a task (global, default,"
                    + " the reference behaviour) or per module"));
    options.add(
        b.opt("concat", STRING)
            .valueName("output|input")
            .action((x, c) -> set(c, () -> c.concat = x))
            .text(
                "KnOTS stacks the updates side by side across the output dimension (output, default)"
                    + " or their transposes (input)"));
    options.add(
        b.opt("output", STRING)
            .valueName("<uri>")
            .action((x, c) -> set(c, () -> c.output = x))
            .text("destination directory; complete once it holds _SUCCESS. Required."));
    options.add(
        b.opt("format", STRING)
            .valueName("adapter|model|both")
            .action((x, c) -> set(c, () -> c.format = x))
            .text(
                "adapter (default with --adapters): a PEFT LoRA adapter; model (default with"
                    + " --finetuned): the base model plus the merged update; both: adapter/ and"
                    + " model/ under --output. model and both need --base. Example: --format both"));
    options.add(
        b.opt("base", STRING)
            .valueName("<uri>")
            .action((x, c) -> set(c, () -> c.base = x))
            .text(
                "base model directory (Hugging Face safetensors, single file or shards + index);"
                    + " needed by --finetuned and by --format model or both; no default. Example:"
                    + " --base s3a://models/llama-3-8b"));
    options.add(
        b.opt("overwrite", FLAG)
            .action((x, c) -> set(c, () -> c.overwrite = true))
            .text("replace an existing --output, once the new merge is complete"));
    options.add(
        b.opt("dry-run", FLAG)
            .action((x, c) -> set(c, () -> c.dryRun = true))
            .text(
                "read the headers, print the plan (modules, shapes, ranks, each module's alignment path"
                    + " with its reason and memory estimate) and exit"));
    options.add(
        b.opt("align-path", STRING)
            .valueName("auto|factor|dense|distributed")
            .action((x, c) -> set(c, () -> c.alignPath = x))
            .text(
                "how KnOTS modules are aligned: auto (default) takes the exact LoRA factor path if it"
                    + " fits --task-memory, else the dense SVD in one task if it fits, else the"
                    + " distributed SVD (MLlib Gramian on the driver, rows read by many tasks);"
                    + " the others force one path for every module. Example: --align-path"
                    + " distributed"));
    options.add(
        b.opt("task-memory", STRING)
            .valueName("<size>")
            .action((x, c) -> set(c, () -> c.taskMemory = x))
            .text(
                "memory one Spark task may use to align one module, or for a plain method to"
                    + " hold one layer's dense updates; default "
                    + Math.round(PathRequest.HEAP_SHARE * 100)
                    + "% of spark.executor.memory per executor core (Spark's default 1g), under a"
                    + " local master of spark.driver.memory per task slot. Example: --task-memory"
                    + " 2g"));
    options.add(
        b.opt("driver-memory-budget", STRING)
            .valueName("<size>")
            .action((x, c) -> set(c, () -> c.driverMemoryBudget = x))
            .text(
                "memory the driver may use for one module's distributed SVD (its n x n Gramian,"
                    + " n the smaller side of the stacked matrix); default "
                    + Math.round(PathRequest.HEAP_SHARE * 100)
                    + "% of spark.driver.memory (Spark's default 1g). Example:"
                    + " --driver-memory-budget 6g"));
    options.add(
        b.opt(UnsupportedTensors.OPTION.substring("--".length()), FLAG)
            .action((x, c) -> set(c, () -> c.skipUnsupported = true))
            .text(
                "leave out adapter tensors we cannot merge (DoRA magnitudes, LoRA biases, embedding"
                    + " LoRA, modules_to_save) and the factors of modules target_modules does not"
                    + " select (PEFT does not apply them) with a warning, instead of refusing the"
                    + " adapter"));
    return options.toArray(new OParser[0]);
  }

  @SuppressWarnings("unchecked")
  private static OParser<?, MergeCommand>[] sweepOptions(OParserBuilder<MergeCommand> b) {
    return new OParser[] {
      b.opt("config", STRING)
          .valueName("<file.yaml>")
          .action((x, c) -> set(c, () -> c.config = x))
          .text(
              "the sweep file (YAML or JSON): the pool of adapters, the combinations, the grid of"
                  + " hyperparameters, the output, an evaluator and a selection (see docs/sweeps.md)."
                  + " Required."),
      b.opt("output", STRING)
          .valueName("<uri>")
          .action((x, c) -> set(c, () -> c.output = x))
          .text("the sweep's directory, instead of the file's output"),
      b.opt("format", STRING)
          .valueName("adapter|model|both|none")
          .action((x, c) -> set(c, () -> c.format = x))
          .text(
              "what each point writes, instead of the file's format; none writes no point, only"
                  + " the results table with the diagnostics"),
      b.opt("dry-run", FLAG)
          .action((x, c) -> set(c, () -> c.dryRun = true))
          .text(
              "read the headers, print every combination and point and each module's alignment"
                  + " path, and exit without starting Spark"),
      b.opt("restart", FLAG)
          .action((x, c) -> set(c, () -> c.restart = true))
          .text("merge every point again instead of resuming the points an earlier run committed")
    };
  }

  private static String examples() {
    return String.join(
        System.lineSeparator(),
        "Examples:",
        "  knots-merge merge --adapters a/math,a/code,a/chat --method knots-ties --top-k 20 \\",
        "      --scaling 0.6 --output out/merged",
        "  scripts/knots-merge --master spark://host:7077 --conf spark.executor.memory=8g merge \\",
        "      --adapters s3a://models/a1,s3a://models/a2 --method ties --top-k 20 --scaling 0.3 \\",
        "      --format both --base s3a://models/llama-3-8b --output hdfs://nn/merges/m1",
        "  knots-merge merge --finetuned ft/math,ft/code --base models/llama-3-8b \\",
        "      --method knots-ties --top-k 20 --exclude 'embed_tokens|lm_head' --output out/full",
        "  knots-merge sweep --config conf/sweeps/digits.yaml",
        "",
        "Methods:",
        MergeMethods.all().stream()
            .map(m -> String.format("  %-18s %s", m.name(), m.summary()))
            .collect(Collectors.joining(System.lineSeparator())));
  }

  private static String methodList() {
    return MergeMethods.all().stream().map(MergeMethod::name).collect(Collectors.joining(", "));
  }

  static String trim(double value) {
    return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
  }

  private static MergeCommand set(MergeCommand command, Runnable change) {
    change.run();
    return command;
  }

  @SafeVarargs
  private static <T> scala.collection.immutable.Seq<T> seq(T... values) {
    return ArraySeq.unsafeWrapArray(values);
  }

  /** scopt's output goes to our streams, and --help never calls System.exit. */
  private static final class Effects extends DefaultOEffectSetup {
    private final PrintStream out;
    private final PrintStream err;

    Effects(PrintStream out, PrintStream err) {
      this.out = out;
      this.err = err;
    }

    @Override
    public void displayToOut(String message) {
      out.println(message);
    }

    @Override
    public void displayToErr(String message) {
      err.println(message);
    }

    @Override
    public void reportError(String message) {
      ErrorOutput.print(err, message);
      err.println("Try " + PROGRAM + " --help");
    }

    @Override
    public void reportWarning(String message) {
      err.println("Warning: " + ErrorOutput.shown(message));
    }

    @Override
    public void terminate(scala.util.Either<String, BoxedUnit> exitState) {}
  }
}
