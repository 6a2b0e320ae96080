package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.io.peft.AdapterWriter;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.peft.LoraShape;
import dev.knots.io.peft.MergedLoraModule;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.job.MergeOutputs;
import dev.knots.job.MergedModule;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.VoidFunction;

/**
 * Writes the merged adapter as PEFT loads it: one {@code adapter_model.safetensors}. Each layer's
 * merge task writes its tensors to a part file; one task then concatenates the parts (in name
 * order, in which every layer's tensors are contiguous) under a single header; the driver writes
 * {@code adapter_config.json} last. No process ever holds more than one layer's tensors.
 */
final class AdapterOutput {
  static final String PARTS_DIR = "_parts";

  private AdapterOutput() {}

  /** A layer's part file and the shapes of the modules in it. */
  record Part(String location, List<LoraShape> modules) implements Serializable {}

  /** Where the layer parts go, inside the adapter directory. */
  static String partsDirectory(FileStore store, String directory) {
    return store.resolve(directory, PARTS_DIR);
  }

  /**
   * Concatenates the layers' parts into {@code adapter_model.safetensors} in one task, removes
   * them, and writes {@code adapter_config.json} last.
   */
  static void assemble(
      JavaSparkContext jsc,
      List<Part> parts,
      FileStore store,
      String directory,
      AdapterWriter configWriter)
      throws IOException {
    List<Part> ordered = new ArrayList<>(parts);
    ordered.sort(Comparator.comparing(p -> p.modules().get(0).key()));
    String target = store.resolve(directory, LoraAdapter.WEIGHTS_FILE);
    jsc.parallelize(List.of(target), 1).foreach(new Assemble(store, ordered));
    store.deleteRecursively(partsDirectory(store, directory));
    configWriter.writeConfig(ordered.stream().flatMap(p -> p.modules().stream()).toList());
  }

  /**
   * Writes one layer's adapter modules to its part file (replacing a failed attempt's).
   *
   * @param layer the layer's index
   * @param written the layer's modules as the adapter holds them, at least one
   */
  static Part writePart(FileStore store, String parts, int layer, List<MergedModule> written)
      throws IOException {
    String location =
        store.resolve(parts, String.format(Locale.ROOT, "layer-%05d.safetensors", layer));
    if (store.exists(location)) {
      store.deleteRecursively(location);
    }
    List<MergedLoraModule> modules = written.stream().map(MergeOutputs::loraModule).toList();
    AdapterWriter.to(store, parts)
        .dtype(DType.F32)
        .writeTensors(store.outputFile(location), modules);
    return new Part(location, modules.stream().map(MergedLoraModule::shape).toList());
  }

  private static final class Assemble implements VoidFunction<String> {
    private static final long serialVersionUID = 1L;

    /**
     * The parts go through one buffer of this size, not an array per tensor: large enough for few
     * reads and writes per tensor, small enough to stay out of G1's humongous regions.
     */
    private static final int COPY_BUFFER_BYTES = 512 * 1024;

    private final FileStore store;
    private final List<Part> parts;

    Assemble(FileStore store, List<Part> parts) {
      this.store = store;
      this.parts = parts;
    }

    @Override
    public void call(String target) throws IOException {
      if (store.exists(target)) {
        store.deleteRecursively(target);
      }
      List<LoraShape> modules = parts.stream().flatMap(p -> p.modules().stream()).toList();
      byte[] buffer = new byte[COPY_BUFFER_BYTES];
      try (SafetensorsWriter out =
          SafetensorsWriter.open(
              store.outputFile(target), AdapterWriter.tensorLayout(modules, DType.F32), Map.of())) {
        for (Part part : parts) {
          var input = store.inputFile(part.location());
          try (SafetensorsReader reader =
              new SafetensorsReader(input, SafetensorsHeader.read(input))) {
            out.copyTensors(reader, buffer);
          }
        }
      }
    }
  }
}
