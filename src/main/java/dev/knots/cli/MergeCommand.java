package dev.knots.cli;

import dev.knots.io.peft.LoraAdapter;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import dev.knots.job.RunOptions;
import dev.knots.knots.Concat;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.Scope;
import dev.knots.plan.AlignPath;
import dev.knots.plan.PathRequest;
import dev.knots.plan.VectorPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The command line as parsed, before validation: the {@code merge} subcommand's options, or the
 * {@code sweep} subcommand's ({@link #sweep}, {@link #config}, {@link #restart} and the shared
 * {@link #output}, {@link #format}, {@link #dryRun}). Mutable for the parser.
 */
final class MergeCommand {
  boolean help;
  boolean merge;
  boolean sweep;

  /** The sweep file ({@code sweep --config}). */
  String config;

  /** {@code sweep --restart}: recompute every point instead of resuming. */
  boolean restart;

  List<String> adapters = new ArrayList<>();
  List<String> finetuned = new ArrayList<>();
  String exclude;
  Long loraRank;
  String method;
  double topK = MergeParameters.DEFAULT_TOP_K;
  List<Double> scaling = List.of(MergeParameters.DEFAULT_SCALING);
  String output;

  // Null until given, so that an option the method or inputs do not use can be refused.
  String vectors;
  Double dareDrop;
  Long seed;
  String scope;
  String concat;

  /** Null until given: the default depends on the inputs. */
  String format;

  String base;
  boolean overwrite;
  boolean dryRun;
  boolean skipUnsupported;
  String alignPath;
  String taskMemory;
  String driverMemoryBudget;

  /** The validated request; every invalid value fails here, naming its option. */
  MergeRequest request() {
    var method = MergeMethods.byName(this.method);
    OutputFormat format = this.format == null ? defaultFormat() : OutputFormat.parse(this.format);
    refuseOptionsTheMethodDoesNotUse(method);
    refuseOptionsTheInputsDoNotUse(format);
    MergeParameters parameters =
        new MergeParameters(
            topK,
            scaling,
            dareDrop == null ? MergeParameters.DEFAULT_DARE_DROP : dareDrop,
            seed == null ? MergeParameters.DEFAULT_SEED : seed,
            scope());
    return new MergeRequest(
        adapters,
        method,
        parameters,
        concat(),
        output,
        format,
        Optional.ofNullable(base),
        finetuned,
        Optional.ofNullable(exclude),
        vectors == null ? VectorPolicy.MERGE : VectorPolicy.parse(vectors),
        loraRank());
  }

  /**
   * Refuses every option given that would change nothing for this method, as a typo or a
   * misunderstanding would otherwise go unnoticed. An invalid value is reported as such first.
   */
  private void refuseOptionsTheMethodDoesNotUse(MergeMethod method) {
    if (!method.aligned()) {
      String unaligned = "--method " + method.name() + " does not align the updates";
      if (concat != null) {
        concat();
        throw doesNotApply("--concat", concat, unaligned, "KnOTS", MergeMethod::aligned);
      }
      if (alignPath != null) {
        AlignPath.parseOption(alignPath);
        throw doesNotApply("--align-path", alignPath, unaligned, "KnOTS", MergeMethod::aligned);
      }
      if (driverMemoryBudget != null) {
        PathRequest.of(null, null, driverMemoryBudget);
        throw doesNotApply(
            PathRequest.DRIVER_MEMORY,
            driverMemoryBudget,
            unaligned,
            "KnOTS",
            MergeMethod::aligned);
      }
    }
    if (!method.dropsAndRescales()) {
      String dropsNothing = "--method " + method.name() + " drops no entries";
      if (dareDrop != null) {
        throw doesNotApply(
            "--dare-drop", dareDrop, dropsNothing, "DARE", MergeMethod::dropsAndRescales);
      }
      if (seed != null) {
        throw doesNotApply("--seed", seed, dropsNothing, "DARE", MergeMethod::dropsAndRescales);
      }
    }
    if (scope != null && !method.electsSign() && topK >= 100) {
      scope();
      throw new InvalidOptionException(
          "--scope",
          scope,
          "--method "
              + method.name()
              + " elects no sign and --top-k "
              + Cli.trim(topK)
              + " prunes nothing, so there is no threshold or majority sign to scope; give --top-k"
              + " below 100, use a TIES method, or leave --scope out");
    }
  }

  /** As {@link #refuseOptionsTheMethodDoesNotUse}, for the inputs and the output format. */
  private void refuseOptionsTheInputsDoNotUse(OutputFormat format) {
    String formatGiven =
        "--format "
            + format.optionValue()
            + (this.format == null
                ? " (the default with " + (finetuned.isEmpty() ? "--adapters" : "--finetuned") + ")"
                : "");
    if (finetuned.isEmpty()) {
      // MergeRequest refuses --exclude and --lora-rank with adapters
      if (vectors != null) {
        VectorPolicy.parse(vectors);
        throw new InvalidOptionException(
            "--vectors", vectors, "applies only to full fine-tuned checkpoints (--finetuned)");
      }
      if (base != null && !format.writesModel()) {
        throw new InvalidOptionException(
            "--base",
            base,
            formatGiven
                + " writes only the merged adapter, which does not need the base model; add"
                + " --format model or --format both to write the merged model too, or leave --base"
                + " out");
      }
    } else {
      if (skipUnsupported) {
        throw new InvalidOptionException(
            "--skip-unsupported",
            "with --finetuned",
            "it applies only to LoRA adapters (--adapters); a full fine-tuned checkpoint has no"
                + " adapter tensors to leave out");
      }
      if (loraRank != null && !format.writesAdapter()) {
        throw new InvalidOptionException(
            "--lora-rank",
            loraRank,
            formatGiven
                + " writes no adapter, so there is no LoRA to extract; add --format adapter or"
                + " --format both, or leave --lora-rank out");
      }
    }
  }

  /**
   * {@code option} given with a method it does not apply to: names the {@code family} of methods it
   * applies to (those {@code appliesTo} accepts) and the way out.
   */
  private static InvalidOptionException doesNotApply(
      String option, Object value, String why, String family, Predicate<MergeMethod> appliesTo) {
    String methods =
        MergeMethods.all().stream()
            .filter(appliesTo)
            .map(MergeMethod::name)
            .collect(Collectors.joining(", "));
    return new InvalidOptionException(
        option,
        value,
        why
            + ", and "
            + option
            + " applies only to the "
            + family
            + " methods ("
            + methods
            + "); use one of them, or leave "
            + option
            + " out");
  }

  private Scope scope() {
    return scope == null ? Scope.GLOBAL : Scope.parse(scope);
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
        PathRequest.of(alignPath, taskMemory, driverMemoryBudget));
  }

  private Concat concat() {
    if (concat == null) {
      return Concat.OUTPUT;
    }
    return switch (concat.toLowerCase(Locale.ROOT)) {
      case "output" -> Concat.OUTPUT;
      case "input" -> Concat.INPUT;
      default -> throw new InvalidOptionException("--concat", concat, "must be output or input");
    };
  }
}
