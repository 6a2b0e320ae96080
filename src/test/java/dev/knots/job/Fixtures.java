package dev.knots.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.knots.io.LocalFileStore;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.linalg.Matrix;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The real fixture set in src/test/resources/fixtures (a copy of shared/fixtures). */
final class Fixtures {
  static final Path ROOT = Path.of("src/test/resources/fixtures").toAbsolutePath();
  static final LocalFileStore STORE = new LocalFileStore();

  /** The tolerance of fixtures/README.md, per module, relative to the expected update. */
  static final double RELATIVE_TOLERANCE = 1e-4;

  private Fixtures() {}

  static JsonNode configs() {
    try {
      return new ObjectMapper().readTree(ROOT.resolve("expected/configs.json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static JsonNode config(String file) {
    for (JsonNode config : configs().get("configs")) {
      if (config.get("file").asText().equals(file)) {
        return config;
      }
    }
    throw new IllegalArgumentException("no expected config " + file);
  }

  /** The adapter directories of a config, in task order. */
  static List<String> adapters(JsonNode config) {
    List<String> adapters = new ArrayList<>();
    config.get("adapters").forEach(a -> adapters.add(ROOT.resolve(a.asText()).toString()));
    return adapters;
  }

  static Path baseModel() {
    return ROOT.resolve("base_model");
  }

  /** Every tensor of a 2-D float safetensors file, as matrices. */
  static Map<String, Matrix> matrices(Path file) {
    try {
      var input = STORE.inputFile(file.toString());
      SafetensorsHeader header = SafetensorsHeader.read(input);
      Map<String, Matrix> out = new LinkedHashMap<>();
      try (SafetensorsReader reader = new SafetensorsReader(input, header)) {
        for (TensorInfo t : header.tensors()) {
          out.put(t.name(), Matrix.fromRowMajor(t.rows(), t.cols(), reader.readDoubles(t.name())));
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A failure message if {@code got} misses the fixture tolerance, else null. */
  static String compare(String name, Matrix got, Matrix expected) {
    if (got.rows != expected.rows || got.cols != expected.cols) {
      return name + ": shape " + got.rows + "x" + got.cols + ", expected " + expected.rows + "x" + expected.cols;
    }
    Matrix diff = got.minus(expected);
    double relative = diff.frobeniusNorm() / expected.frobeniusNorm();
    double worst = diff.maxAbs() / expected.maxAbs();
    if (relative > RELATIVE_TOLERANCE || worst > RELATIVE_TOLERANCE) {
      return String.format("%s: relative Frobenius error %.3e, max error %.3e of max|expected|", name, relative, worst);
    }
    return null;
  }

  static Path copyOf(Path source, Path target) throws IOException {
    Files.createDirectories(target);
    try (var files = Files.list(source)) {
      for (Path file : files.toList()) {
        Files.copy(file, target.resolve(file.getFileName()));
      }
    }
    return target;
  }
}
