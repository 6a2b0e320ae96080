package dev.knots.job;

import dev.knots.knots.Concat;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;

/**
 * Everything a merge needs to know, validated as a whole before any file is read.
 *
 * @param adapters adapter directories, in task order
 * @param base the base model directory; required for {@link OutputFormat#MODEL} and BOTH
 */
public record MergeRequest(
    List<String> adapters,
    MergeMethod method,
    MergeParameters parameters,
    Concat concat,
    String output,
    OutputFormat format,
    Optional<String> base) {

  public MergeRequest {
    adapters = List.copyOf(adapters);
    if (adapters.isEmpty()) {
      throw new InvalidOptionException(
          "--adapters", "(none)", "give at least one adapter directory");
    }
    if (new HashSet<>(adapters).size() != adapters.size()) {
      throw new InvalidOptionException("--adapters", adapters, "an adapter is listed twice");
    }
    parameters.checkTaskCount(adapters.size());
    if (format.writesModel() && base.isEmpty()) {
      throw new InvalidOptionException(
          "--format",
          format.optionValue(),
          "writing a model needs the base model: add --base <dir>");
    }
  }

  public int taskCount() {
    return adapters.size();
  }
}
