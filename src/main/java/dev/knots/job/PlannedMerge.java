package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.MergePlan;
import dev.knots.plan.PathOptions;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.util.Optional;

/**
 * A merge ready to run, made once from headers before any engine starts: the request, its inputs
 * opened, the plan of every module's alignment path, and the base model the merged model is written
 * onto (when one is).
 */
public record PlannedMerge(
    MergeRequest request, MergeInputs inputs, MergePlan plan, Optional<HfModelFiles> base) {

  /**
   * Opens the inputs of {@code request} through {@code store}, plans their alignment with {@code
   * paths}, and checks the base against them when a model is written. Reads headers only.
   *
   * @param unsupported what to do with tensors the merge cannot take
   * @throws dev.knots.plan.PlanningException if no path can take some module
   */
  public static PlannedMerge prepare(
      MergeRequest request,
      LoraAdapter.UnsupportedTensors unsupported,
      PathOptions paths,
      FileStore store)
      throws IOException {
    MergeInputs inputs = request.openInputs(store, unsupported);
    MergePlan plan = Planner.plan(inputs, request.method(), request.concat(), paths);
    Optional<HfModelFiles> base = Optional.empty();
    if (request.format().writesModel()) {
      HfModelFiles files = HfModelFiles.open(store, request.base().orElseThrow());
      ModelWriter.checkCompatible(files, inputs.modules(), inputs.fanInFanOut());
      base = Optional.of(files);
    }
    return new PlannedMerge(request, inputs, plan, base);
  }

  /**
   * Whether {@code next} can merge from this merge's alignment instead of aligning again: it reads
   * the same inputs with the same layer plans and concatenation, and aligns them the same way
   * (KnOTS or not). Its method and hyperparameters may differ.
   */
  public boolean sharesAlignmentWith(PlannedMerge next) {
    return inputs == next.inputs()
        && request.method().aligned() == next.request().method().aligned()
        && request.concat() == next.request().concat()
        && plan.layers().equals(next.plan().layers());
  }
}
