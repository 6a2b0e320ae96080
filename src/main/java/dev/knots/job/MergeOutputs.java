package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.io.Storage;
import dev.knots.io.peft.AdapterWriter;
import dev.knots.io.peft.MergedLoraModule;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.plan.MergeInputs;
import java.io.IOException;
import java.util.List;

/**
 * Writes what a merge produces. With one format the output directory is the adapter (or model)
 * itself, so {@code PeftModel.from_pretrained(base, output)} works on it directly; with both they
 * go to {@code adapter/} and {@code model/} under it.
 */
public final class MergeOutputs {
  public static final String ADAPTER_DIR = "adapter";
  public static final String MODEL_DIR = "model";

  private MergeOutputs() {}

  /**
   * Whether the merge needs only its modules' outcomes: it writes nothing and extracts no LoRA
   * (whose rank and kept norm the outcomes would report).
   */
  public static boolean outcomesOnly(MergeRequest request) {
    return !request.format().writes() && request.loraRank().isEmpty();
  }

  /** Where the adapter goes inside the output directory {@code root}. */
  public static String adapterDirectory(OutputFormat format, String root, FileStore store) {
    return format == OutputFormat.BOTH ? store.resolve(root, ADAPTER_DIR) : root;
  }

  /** Where the model goes inside the output directory {@code root}. */
  public static String modelDirectory(OutputFormat format, String root, FileStore store) {
    return format == OutputFormat.BOTH ? store.resolve(root, MODEL_DIR) : root;
  }

  /**
   * Writes every output {@code merge} asks for under {@code root} (the staging directory): the
   * adapter holds {@code adapterModules}, the model adds {@code merged} to the base.
   */
  public static void write(
      PlannedMerge merge,
      List<MergedModule> merged,
      List<MergedModule> adapterModules,
      FileStore store,
      String root)
      throws IOException {
    MergeRequest request = merge.request();
    MergeInputs inputs = merge.inputs();
    if (request.format().writesAdapter()) {
      String directory = adapterDirectory(request.format(), root, store);
      store.mkdirs(directory);
      inputs
          .adapterSettings(AdapterWriter.to(store, directory))
          .write(adapterModules.stream().map(MergeOutputs::loraModule).toList());
    }
    if (merge.base().isPresent()) {
      HfModelFiles base = merge.base().get();
      String directory = modelDirectory(request.format(), root, store);
      store.mkdirs(directory);
      copyModelSideFiles(store, base.location(), directory);
      ModelWriter.write(
          store,
          base,
          directory,
          merged,
          PlainTensorMerge.of(request, inputs),
          inputs.fanInFanOut());
    }
  }

  /**
   * The tensors a merge of checkpoints changes that the adapter extracted from it cannot carry:
   * non-2-D tensors (norm scales, biases) whose merged change is not zero. Empty unless an adapter
   * is extracted from checkpoints.
   */
  public static List<String> changesNotInAdapter(
      MergeRequest request, MergeInputs inputs, FileStore store) throws IOException {
    if (!request.mergesCheckpoints() || !request.format().writesAdapter()) {
      return List.of();
    }
    return PlainTensorMerge.of(request, inputs).changedTensors(store);
  }

  /**
   * The merged module as the adapter writer takes it: the factors' column-major arrays themselves,
   * which the writer transposes while it encodes them.
   */
  public static MergedLoraModule loraModule(MergedModule module) {
    return new MergedLoraModule(
        module.key(), module.rank(), module.out(), module.in(), module.b().data, module.a().data);
  }

  /**
   * Copies the base directory's other files (config.json, generation and tokenizer files) so the
   * merged model loads with {@code from_pretrained} like the base does.
   */
  public static void copyModelSideFiles(FileStore store, String baseDirectory, String directory)
      throws IOException {
    for (String name : store.list(baseDirectory)) {
      String source = store.resolve(baseDirectory, name);
      if (name.endsWith(".safetensors")
          || name.equals(HfModelFiles.INDEX_FILE)
          || store.isDirectory(source)) {
        continue;
      }
      Storage.writeAll(
          store.outputFile(store.resolve(directory, name)),
          Storage.readAll(store.inputFile(source), SIDE_FILE_LIMIT));
    }
  }

  private static final int SIDE_FILE_LIMIT = 256 << 20;
}
