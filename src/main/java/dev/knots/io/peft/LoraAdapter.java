package dev.knots.io.peft;

import dev.knots.io.FileFormatException;
import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.io.Storage;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.TensorInfo;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEFT LoRA adapter directory: {@code adapter_config.json} plus {@code adapter_model.safetensors}
 * with keys {@code base_model.model.<module>.lora_A.weight} ({@code r x in}) and {@code
 * .lora_B.weight} ({@code out x r}); an adapter-name infix ({@code .lora_A.default.weight}) is
 * accepted too.
 *
 * <p>Opening reads the config and only the header of the weights, and validates every module's
 * shapes against the config. Factors are read on demand. Features that change what the factors mean
 * (DoRA, LoRA bias, embedding LoRA, {@code modules_to_save}, unknown tensors) and the factors of
 * modules the config does not target (which PEFT does not apply) are refused, or with {@link
 * UnsupportedTensors#SKIP_WITH_WARNING} left out and reported in {@link #warnings()}.
 */
public final class LoraAdapter implements Closeable {

  /** File name of the adapter config. */
  public static final String CONFIG_FILE = "adapter_config.json";

  /** File name of the adapter weights. */
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";

  /** Prefix PEFT puts before module names in saved keys. */
  public static final String KEY_PREFIX = "base_model.model.";

  private static final int MAX_CONFIG_BYTES = 16 << 20;

  private static final Pattern FACTOR =
      Pattern.compile(
          "^" + Pattern.quote(KEY_PREFIX) + "(.+)\\.lora_([AB])(?:\\.([^.]+))?\\.weight$");

  private static final Pattern LORA_BIAS = Pattern.compile("\\.lora_B(?:\\.[^.]+)?\\.bias$");

  /** Modules outside the targets a refusal names; the rest are counted. */
  private static final int UNTARGETED_NAMED = 3;

  /** What to do with tensors and config flags of features the merge does not support. */
  public enum UnsupportedTensors {
    /** Fail, naming the adapter, feature and tensor (the default). */
    REFUSE,
    /** Leave them out and add a warning to {@link #warnings()}: what {@link #OPTION} asks for. */
    SKIP_WITH_WARNING;

    /** The command-line option that leaves them out, which a refusal tells the user to add. */
    public static final String OPTION = "--skip-unsupported";
  }

  private final FileStore store;
  private final String location;
  private final AdapterConfig config;
  private final SafetensorsHeader header;
  private final SortedMap<String, LoraModule> modules;
  private final List<String> warnings;
  private SafetensorsReader reader;

  private LoraAdapter(
      FileStore store,
      String location,
      AdapterConfig config,
      SafetensorsHeader header,
      SortedMap<String, LoraModule> modules,
      List<String> warnings) {
    this.store = store;
    this.location = location;
    this.config = config;
    this.header = header;
    this.modules = Collections.unmodifiableSortedMap(modules);
    this.warnings = List.copyOf(warnings);
  }

  /** Opens the adapter in {@code directory}, refusing unsupported features. */
  public static LoraAdapter open(FileStore store, String directory) throws IOException {
    return open(store, directory, UnsupportedTensors.REFUSE);
  }

  /**
   * Opens the adapter in {@code directory}.
   *
   * @throws FileFormatException naming the adapter (and module or tensor) if files are missing or
   *     pickled, the config is invalid, shapes disagree with each other or the config, or an
   *     unsupported feature is present and {@code unsupported} is {@code REFUSE}
   */
  public static LoraAdapter open(FileStore store, String directory, UnsupportedTensors unsupported)
      throws IOException {
    String weights = store.resolve(directory, WEIGHTS_FILE);
    if (!store.exists(weights)) {
      if (!store.exists(directory)) {
        throw new FileFormatException(
            "Cannot open adapter " + directory + ": the directory does not exist.");
      }
      HfModelFiles.refusePickles(directory, store.list(directory), "adapter");
      throw new FileFormatException(
          "Cannot open adapter "
              + directory
              + ": it has no "
              + WEIGHTS_FILE
              + ". Save the adapter with save_pretrained(safe_serialization=True).");
    }
    String configFile = store.resolve(directory, CONFIG_FILE);
    if (!store.exists(configFile)) {
      throw new FileFormatException(
          "Cannot open adapter " + directory + ": it has no " + CONFIG_FILE + ".");
    }
    AdapterConfig config =
        AdapterConfig.parse(
            Storage.readAll(store.inputFile(configFile), MAX_CONFIG_BYTES), configFile);
    SafetensorsHeader header = SafetensorsHeader.read(store.inputFile(weights));
    Loader loader = new Loader(directory, config, unsupported);
    loader.checkConfigFlags();
    for (TensorInfo tensor : header.tensors()) {
      loader.add(tensor);
    }
    return new LoraAdapter(store, directory, config, header, loader.modules(), loader.warnings);
  }

  /** The adapter directory. */
  public String location() {
    return location;
  }

  /** The parsed {@code adapter_config.json}. */
  public AdapterConfig config() {
    return config;
  }

  /** The header of {@code adapter_model.safetensors}. */
  public SafetensorsHeader header() {
    return header;
  }

  /** The adapted modules by module key, sorted. */
  public SortedMap<String, LoraModule> modules() {
    return modules;
  }

  /**
   * What was left out under {@link UnsupportedTensors#SKIP_WITH_WARNING}, one line each, for the
   * caller to log.
   */
  public List<String> warnings() {
    return warnings;
  }

  /**
   * The A factor of {@code module}: {@code rank x in} values, row-major, as stored (without
   * scaling).
   *
   * @throws FileFormatException naming the adapter, tensor and first bad index if a value is NaN or
   *     infinite
   */
  public double[] readA(LoraModule module) throws IOException {
    return readFactor(module, module.a());
  }

  /**
   * The B factor of {@code module}: {@code out x rank} values, row-major, as stored (without
   * scaling).
   *
   * @throws FileFormatException naming the adapter, tensor and first bad index if a value is NaN or
   *     infinite
   */
  public double[] readB(LoraModule module) throws IOException {
    return readFactor(module, module.b());
  }

  private double[] readFactor(LoraModule module, TensorInfo tensor) throws IOException {
    if (!module.equals(modules.get(module.key()))) {
      throw new IllegalArgumentException(
          "Cannot read module "
              + module.key()
              + " from adapter "
              + location
              + ": it belongs to another adapter.");
    }
    return requireFinite(location, tensor, reader().readDoubles(tensor.name()));
  }

  /**
   * Returns {@code values}, the factor {@code tensor} of the adapter at {@code adapter}, after
   * checking that none is NaN or infinite.
   *
   * @throws FileFormatException naming the adapter, tensor, value and its row and column
   */
  public static double[] requireFinite(String adapter, TensorInfo tensor, double[] values)
      throws FileFormatException {
    for (int i = 0; i < values.length; i++) {
      if (!Double.isFinite(values[i])) {
        int cols = tensor.cols();
        throw new FileFormatException(
            "Cannot use adapter "
                + adapter
                + ": tensor '"
                + tensor.name()
                + "' has "
                + values[i]
                + " at index "
                + i
                + " (row "
                + i / cols
                + ", column "
                + i % cols
                + "). The adapter is corrupt or its training diverged; retrain it or leave it out.");
      }
    }
    return values;
  }

  private synchronized SafetensorsReader reader() {
    if (reader == null) {
      reader =
          new SafetensorsReader(store.inputFile(header.location(), header.fileLength()), header);
    }
    return reader;
  }

  @Override
  public synchronized void close() throws IOException {
    if (reader != null) {
      reader.close();
      reader = null;
    }
  }

  @Override
  public String toString() {
    return "LoraAdapter[" + location + ", " + modules.size() + " modules]";
  }

  /** Classifies the tensors of one adapter and pairs A with B. */
  private static final class Loader {
    private final String location;
    private final AdapterConfig config;
    private final UnsupportedTensors unsupported;
    private final Map<String, TensorInfo> as = new TreeMap<>();
    private final Map<String, TensorInfo> bs = new TreeMap<>();
    private final SortedSet<String> untargeted = new TreeSet<>();
    private final List<String> warnings = new ArrayList<>();

    Loader(String location, AdapterConfig config, UnsupportedTensors unsupported) {
      this.location = location;
      this.config = config;
      this.unsupported = unsupported;
    }

    void checkConfigFlags() throws FileFormatException {
      if (config.useDora()) {
        unsupported(
            "DoRA (use_dora is true in " + CONFIG_FILE + ")",
            null,
            "the merge uses B @ A without DoRA's magnitude and normalisation");
      }
      if (config.loraBias()) {
        unsupported(
            "a LoRA bias (lora_bias is true in " + CONFIG_FILE + ")", null, "the bias is left out");
      }
    }

    void add(TensorInfo tensor) throws FileFormatException {
      String name = tensor.name();
      if (name.contains("modules_to_save")) {
        unsupported(
            "modules_to_save (a fully trained copy of a module)",
            name,
            "that module keeps its base weights");
      } else if (name.contains("lora_magnitude_vector")) {
        unsupported(
            "DoRA (a magnitude vector)", name, "the merge uses B @ A without DoRA's magnitude");
      } else if (name.contains("lora_embedding_A") || name.contains("lora_embedding_B")) {
        unsupported("embedding LoRA (lora_embedding_A/B)", name, "the embedding is not merged");
      } else if (LORA_BIAS.matcher(name).find()) {
        unsupported("a LoRA bias (lora_B bias)", name, "the bias is left out");
      } else {
        Matcher factor = FACTOR.matcher(name);
        if (!factor.matches()) {
          unsupported(
              name.endsWith(".bias")
                  ? "a bias tensor (bias=\"" + Locations.printable(config.bias()) + "\")"
                  : "a tensor that is not a LoRA factor",
              name,
              "it is ignored");
          return;
        }
        String module = factor.group(1);
        if (!config.targets().selects(module)) {
          // PEFT skips them unread, whatever their shape
          untargeted.add(module);
          return;
        }
        addFactor(module, factor.group(2).equals("A") ? as : bs, tensor);
      }
    }

    /**
     * The modules with factors that the config does not target: PEFT loads them as unexpected keys
     * and never applies them, so merging them would change what the adapter does.
     */
    private void leaveOutUntargeted() throws FileFormatException {
      if (untargeted.isEmpty()) {
        return;
      }
      String targets = config.targets().describe();
      if (unsupported == UnsupportedTensors.REFUSE) {
        // one refusal naming the first few; leaving them out warns of each
        List<String> named = untargeted.stream().limit(UNTARGETED_NAMED).toList();
        int more = untargeted.size() - named.size();
        unsupported(
            "LoRA factors of modules outside "
                + targets
                + " ("
                + untargeted.size()
                + (untargeted.size() == 1 ? " module: " : " modules: ")
                + String.join(", ", named)
                + (more > 0 ? " and " + more + " more" : "")
                + "; PEFT would not apply them)",
            null,
            "they are not merged");
      }
      for (String module : untargeted) {
        unsupported(
            "module " + module + ", which " + targets + " does not select",
            null,
            "PEFT does not apply it either");
      }
    }

    private void addFactor(String module, Map<String, TensorInfo> factors, TensorInfo tensor)
        throws FileFormatException {
      if (!tensor.dtype().isFloat() || tensor.rank() != 2) {
        throw fail(
            "tensor '"
                + tensor.name()
                + "' is "
                + tensor.dtype()
                + tensor.shapeText()
                + ", but a LoRA factor is a 2-D floating-point matrix");
      }
      TensorInfo previous = factors.put(module, tensor);
      if (previous != null) {
        throw fail(
            "module "
                + module
                + " has two factors of the same kind, '"
                + previous.name()
                + "' and '"
                + tensor.name()
                + "' (several adapters in one file?)");
      }
    }

    SortedMap<String, LoraModule> modules() throws FileFormatException {
      leaveOutUntargeted();
      SortedMap<String, LoraModule> modules = new TreeMap<>();
      for (String module : as.keySet()) {
        if (!bs.containsKey(module)) {
          throw fail(
              "module " + module + " has lora_A '" + as.get(module).name() + "' but no lora_B");
        }
      }
      for (Map.Entry<String, TensorInfo> entry : bs.entrySet()) {
        String module = entry.getKey();
        TensorInfo a = as.get(module);
        TensorInfo b = entry.getValue();
        if (a == null) {
          throw fail("module " + module + " has lora_B '" + b.name() + "' but no lora_A");
        }
        int rank = a.rows();
        if (b.cols() != rank) {
          throw fail(
              "module "
                  + module
                  + " has lora_A "
                  + a.shapeText()
                  + " and lora_B "
                  + b.shapeText()
                  + " of different ranks; PEFT expects lora_A [r, in] and lora_B [out, r]");
        }
        int expected = config.rankFor(module);
        if (rank != expected) {
          throw fail(
              "module "
                  + module
                  + " has rank "
                  + rank
                  + " (lora_A "
                  + a.shapeText()
                  + ", lora_B "
                  + b.shapeText()
                  + "), but "
                  + CONFIG_FILE
                  + " gives it rank "
                  + expected
                  + " (r or rank_pattern); PEFT would refuse to load it");
        }
        modules.put(
            module, new LoraModule(module, a, b, rank, a.cols(), b.rows(), checkedScaling(module)));
      }
      if (modules.isEmpty()) {
        throw fail(
            untargeted.isEmpty()
                ? "it has no LoRA factors (no base_model.model.<module>.lora_A.weight keys)"
                : "it has no LoRA factors of the modules "
                    + config.targets().describe()
                    + " selects");
      }
      return modules;
    }

    /**
     * PEFT's scaling of {@code module}, once it is within float32's range: PEFT multiplies by it in
     * the model's floating-point type (float32 at most), where a larger value is infinite, and so
     * is every update of the adapter.
     */
    private double checkedScaling(String module) throws FileFormatException {
      double scaling = config.scalingFor(module);
      if (Math.abs(scaling) > Float.MAX_VALUE) {
        String alphaKey = config.alphaKeyFor(module);
        throw fail(
            "module "
                + module
                + " has a LoRA scaling of "
                + alphaKey
                + " / "
                + (config.useRslora() ? "sqrt(r)" : "r")
                + " = "
                + config.alphaFor(module)
                + " / "
                + (config.useRslora()
                    ? "sqrt(" + config.rankFor(module) + ")"
                    : config.rankFor(module))
                + " = "
                + scaling
                + ", beyond float32's largest value ("
                + Float.MAX_VALUE
                + "), in which PEFT applies it: every update of the adapter would be infinite."
                + " Correct "
                + alphaKey
                + " in "
                + CONFIG_FILE);
      }
      return scaling;
    }

    private void unsupported(String feature, String tensor, String consequence)
        throws FileFormatException {
      String where = tensor == null ? "" : " (tensor '" + tensor + "')";
      if (unsupported == UnsupportedTensors.REFUSE) {
        throw new FileFormatException(
            "Cannot open adapter "
                + location
                + ": it uses "
                + feature
                + where
                + ", which the merge does not support. Use an adapter without it, or rerun with "
                + UnsupportedTensors.OPTION
                + " to leave it out.");
      }
      warnings.add(
          "Adapter " + location + ": left out " + feature + where + "; " + consequence + ".");
    }

    private FileFormatException fail(String reason) {
      return new FileFormatException("Cannot open adapter " + location + ": " + reason + ".");
    }
  }
}
