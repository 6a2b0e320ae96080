package dev.knots.plan;

import dev.knots.io.FileStore;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.knots.LoraFactors;
import dev.knots.linalg.Matrix;
import java.io.IOException;

/**
 * Where one adapter's LoRA factors for one module are, read on the driver from the adapter's header
 * and small enough to ship to whichever task aligns the module. The header is cut down to the
 * module's two tensors, so reading needs no further request for metadata.
 *
 * @param header the adapter's safetensors header, restricted to {@code aTensor} and {@code bTensor}
 * @param rank the LoRA rank {@code r} of this module
 * @param scale PEFT's scaling for this module: alpha / r, or alpha / sqrt(r) with rsLoRA
 */
public record FactorSource(
    String adapter,
    SafetensorsHeader header,
    String aTensor,
    String bTensor,
    int rank,
    double scale)
    implements UpdateSource {

  @Override
  public String origin() {
    return adapter;
  }

  @Override
  public boolean factored() {
    return true;
  }

  /** Bytes the two ranged reads fetch. */
  @Override
  public long byteLength() {
    return header.tensors().stream().mapToLong(TensorInfo::byteLength).sum();
  }

  /** Reads the factors with two ranged reads. */
  @Override
  public LoraFactors read(FileStore store) throws IOException {
    var a = header.require(aTensor);
    var b = header.require(bTensor);
    try (SafetensorsReader reader =
        new SafetensorsReader(store.inputFile(header.location(), header.fileLength()), header)) {
      double[] aValues = LoraAdapter.requireFinite(adapter, a, reader.readDoubles(aTensor));
      double[] bValues = LoraAdapter.requireFinite(adapter, b, reader.readDoubles(bTensor));
      return new LoraFactors(
          Matrix.fromRowMajor(b.rows(), b.cols(), bValues),
          Matrix.transposeOfRowMajor(a.rows(), a.cols(), aValues),
          scale);
    }
  }

  /** Rows of {@code scale * B @ A}: reads those rows of B and all of A (r x I, small). */
  @Override
  public Matrix readRows(FileStore store, int first, int count) throws IOException {
    var a = header.require(aTensor);
    var b = header.require(bTensor);
    try (SafetensorsReader reader =
        new SafetensorsReader(store.inputFile(header.location(), header.fileLength()), header)) {
      double[] aValues = LoraAdapter.requireFinite(adapter, a, reader.readDoubles(aTensor));
      double[] bRows =
          LoraAdapter.requireFinite(
              adapter, b, reader.readDoubles(bTensor, (long) first * rank, count * rank));
      return Matrix.fromRowMajor(count, rank, bRows)
          .multiplyTranspose(Matrix.transposeOfRowMajor(a.rows(), a.cols(), aValues))
          .scale(scale);
    }
  }
}
