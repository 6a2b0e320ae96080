package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.linalg.Matrix;
import dev.knots.merge.InMemoryModuleScan;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.MergedVector;
import dev.knots.merge.ModuleMerge;
import dev.knots.merge.ModuleVectors;
import dev.knots.merge.Scope;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.PlainTensor;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * How the tensors KnOTS cannot align (norm scales, biases of full checkpoints) are merged: with the
 * method's plain counterpart ({@code ties} for {@code knots-ties}), each tensor as its own scope,
 * so it gets its own top-K threshold and sign election. Mixing raw entries into the aligned space's
 * global top-K would compare unlike quantities. The tensors are small, so the task that writes a
 * shard of the model merges the ones in it.
 *
 * @param tensors by name; empty when there are none (adapters, or {@code --vectors base})
 */
public record PlainTensorMerge(
    MergeMethod method, MergeParameters parameters, Map<String, PlainTensor> tensors)
    implements Serializable {

  public PlainTensorMerge {
    tensors = new TreeMap<>(tensors);
  }

  /** The plain merges the inputs need, with the request's options in per-tensor scope. */
  public static PlainTensorMerge of(MergeRequest request, MergeInputs inputs) {
    Map<String, PlainTensor> byName = new TreeMap<>();
    inputs.plainTensors().forEach(t -> byName.put(t.name(), t));
    return new PlainTensorMerge(
        MergeMethods.plainCounterpart(request.method()),
        request.parameters().withScope(Scope.MODULE),
        byName);
  }

  public Optional<PlainTensor> tensor(String name) {
    return Optional.ofNullable(tensors.get(name));
  }

  /**
   * The tensors whose merged change is not zero, by name (reads and merges each; they are small).
   */
  public List<String> changedTensors(FileStore store) throws IOException {
    List<String> changed = new ArrayList<>();
    for (PlainTensor tensor : tensors.values()) {
      if (Arrays.stream(merge(tensor, store).values()).anyMatch(v -> v != 0)) {
        changed.add(tensor.name());
      }
    }
    return changed;
  }

  /** Reads the tensor's change in every task and merges them: the merged change, row-major. */
  public MergedVector merge(PlainTensor tensor, FileStore store) throws IOException {
    float[][] deltas = new float[tensor.deltas().size()][];
    for (int i = 0; i < deltas.length; i++) {
      deltas[i] = Matrix.toFloats(tensor.deltas().get(i).read(store));
    }
    ModuleVectors prepared = ModuleMerge.prepare(method, parameters, tensor.name(), deltas);
    MergeStatistics statistics =
        MergeStatistics.compute(
            method, parameters, deltas.length, new InMemoryModuleScan(List.of(prepared)));
    return ModuleMerge.merge(method, parameters, statistics, prepared);
  }
}
