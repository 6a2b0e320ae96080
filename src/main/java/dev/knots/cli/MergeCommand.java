package dev.knots.cli;

import dev.knots.io.peft.LoraAdapter;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import dev.knots.job.RunOptions;
import dev.knots.knots.Concat;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.Scope;
import dev.knots.plan.AlignPath;
import dev.knots.plan.Budget;
import dev.knots.plan.PathRequest;
import dev.knots.plan.VectorPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

/** The {@code merge} subcommand's options as parsed, before validation. Mutable for the parser. */
final class MergeCommand {
  boolean help;
  boolean merge;
  List<String> adapters = new ArrayList<>();
  List<String> finetuned = new ArrayList<>();
  String exclude;
  String vectors = VectorPolicy.MERGE.optionValue();
  Long loraRank;
  String method;
  double topK = MergeParameters.DEFAULT_TOP_K;
  List<Double> scaling = List.of(MergeParameters.DEFAULT_SCALING);
  double dareDrop = MergeParameters.DEFAULT_DARE_DROP;
  boolean dareDropGiven;
  long seed = MergeParameters.DEFAULT_SEED;
  String scope = Scope.GLOBAL.optionValue();
  String concat = "output";
  String output;

  /** Null until given: the default depends on the inputs. */
  String format;

  String base;
  boolean overwrite;
  boolean dryRun;
  boolean skipUnsupported;
  String alignPath = "auto";
  String taskMemory;
  String driverMemoryBudget;

  /** The validated request; every invalid value fails here, naming its option. */
  MergeRequest request() {
    var method = MergeMethods.byName(this.method);
    if (dareDropGiven && !method.dropsAndRescales()) {
      throw new InvalidOptionException(
          "--dare-drop",
          dareDrop,
          "only DARE methods drop entries; use dare-ties, dare-linear,"
              + " knots-dare-ties or knots-dare-linear, or leave --dare-drop out");
    }
    MergeParameters parameters =
        new MergeParameters(topK, scaling, dareDrop, seed, Scope.parse(scope));
    return new MergeRequest(
        adapters,
        method,
        parameters,
        concat(),
        output,
        format == null ? defaultFormat() : OutputFormat.parse(format),
        Optional.ofNullable(base),
        finetuned,
        Optional.ofNullable(exclude),
        VectorPolicy.parse(vectors),
        loraRank());
  }

  /** Adapters merge into an adapter; full checkpoints into a full model. */
  private OutputFormat defaultFormat() {
    return finetuned.isEmpty() ? OutputFormat.ADAPTER : OutputFormat.MODEL;
  }

  private OptionalInt loraRank() {
    if (loraRank == null) {
      return OptionalInt.empty();
    }
    if (loraRank < 1 || loraRank > Integer.MAX_VALUE) {
      throw new InvalidOptionException("--lora-rank", loraRank, "must be at least 1");
    }
    return OptionalInt.of(loraRank.intValue());
  }

  /** How to run; every invalid value fails here, naming its option. */
  RunOptions runOptions() {
    return new RunOptions(
        overwrite,
        skipUnsupported
            ? LoraAdapter.UnsupportedTensors.SKIP_WITH_WARNING
            : LoraAdapter.UnsupportedTensors.REFUSE,
        new PathRequest(
            AlignPath.parseOption(alignPath),
            size(PathRequest.TASK_MEMORY, taskMemory),
            size(PathRequest.DRIVER_MEMORY, driverMemoryBudget)));
  }

  private static OptionalLong size(String option, String value) {
    if (value == null) {
      return OptionalLong.empty();
    }
    try {
      long bytes = Budget.parse(value, 1);
      if (bytes <= 0) {
        throw new IllegalArgumentException("it must be more than 0 bytes");
      }
      return OptionalLong.of(bytes);
    } catch (IllegalArgumentException e) {
      throw new InvalidOptionException(option, value, e.getMessage());
    }
  }

  private Concat concat() {
    return switch (concat.toLowerCase(Locale.ROOT)) {
      case "output" -> Concat.OUTPUT;
      case "input" -> Concat.INPUT;
      default -> throw new InvalidOptionException("--concat", concat, "must be output or input");
    };
  }
}
