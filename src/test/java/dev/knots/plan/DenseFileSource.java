package dev.knots.plan;

import dev.knots.io.FileStore;
import dev.knots.io.LocalFileStore;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorSpec;
import dev.knots.knots.DenseUpdate;
import dev.knots.linalg.Matrix;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A dense update {@code dW} stored as one float64 tensor in a real safetensors file: the tests'
 * stand-in for a full fine-tune's {@code finetuned - base}, which sources of this shape will read
 * ({@code factored() == false}, ranged row reads).
 */
public record DenseFileSource(SafetensorsHeader header, String tensor, int out, int in)
    implements UpdateSource {

  /** Writes {@code dW} to {@code dir/name.safetensors} and returns its source. */
  public static DenseFileSource write(Path dir, String name, Matrix dW) throws IOException {
    LocalFileStore store = new LocalFileStore();
    String location = dir.resolve(name + ".safetensors").toString();
    TensorSpec spec = TensorSpec.matrix("delta", DType.F64, dW.rows, dW.cols);
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(store.outputFile(location), List.of(spec), Map.of())) {
      writer.write("delta", dW.toRowMajor());
    }
    return new DenseFileSource(
        SafetensorsHeader.read(store.inputFile(location)), "delta", dW.rows, dW.cols);
  }

  @Override
  public String origin() {
    return header.location();
  }

  @Override
  public long byteLength() {
    return header.tensors().get(0).byteLength();
  }

  @Override
  public int rank() {
    return Math.min(out, in);
  }

  @Override
  public boolean factored() {
    return false;
  }

  @Override
  public DenseUpdate read(FileStore store) throws IOException {
    return new DenseUpdate(readRows(store, 0, out));
  }

  @Override
  public Matrix readRows(FileStore store, int first, int count) throws IOException {
    try (SafetensorsReader reader =
        new SafetensorsReader(store.inputFile(header.location(), header.fileLength()), header)) {
      return Matrix.fromRowMajor(
          count, in, reader.readDoubles(tensor, (long) first * in, count * in));
    }
  }
}
