package dev.knots.job;

import dev.knots.linalg.Decompositions;
import dev.knots.linalg.Matrix;
import dev.knots.linalg.Svd;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A LoRA of rank at most {@code r} extracted from one module's merged update (like mergekit's
 * extract-lora, but of the merge): the truncated SVD {@code dW ~ U_r diag(s_r) V_r^T}, stored as
 * {@code B = U_r diag(s_r)}, {@code A = V_r^T} with alpha = rank (scaling 1). The merged update is
 * already factored as {@code b @ a} with few columns (for KnOTS, {@code U @ R_merged}), so a thin
 * QR of {@code b} and the SVD of the small {@code R_b a} give it without forming {@code O x I}.
 *
 * @param key the module
 * @param lora the extracted factors, or null when the module is left out
 * @param keptFraction {@code ||dW_r||_F / ||dW||_F}, the share of the update's Frobenius norm kept
 *     (0 when left out)
 * @param leftOut why the module is not in the adapter, or null
 */
public record ExtractedLora(String key, MergedModule lora, double keptFraction, String leftOut)
    implements Serializable {

  /**
   * Weights of nn.Embedding layers: PEFT stores their LoRA as lora_embedding_A/B, which the adapter
   * writer does not write, so a change to them cannot go into the adapter as lora_A/lora_B.
   */
  private static final Pattern EMBEDDING =
      Pattern.compile("(^|\\.)(embed_tokens|embed_positions|word_embeddings|wte|wpe)$");

  /** The module as the adapter should hold it, if at all. */
  public Optional<MergedModule> written() {
    return Optional.ofNullable(lora);
  }

  /**
   * Extracts rank {@code min(rank, nonzero rank of dW)}. A zero update is left out (PEFT would add
   * nothing); so is a changed embedding, which lora_A/lora_B cannot carry.
   */
  public static ExtractedLora of(MergedModule merged, int rank) {
    if (merged.isZero()) {
      return new ExtractedLora(merged.key(), null, 0, "the merged update is zero");
    }
    if (EMBEDDING.matcher(merged.key()).find()) {
      return new ExtractedLora(
          merged.key(),
          null,
          0,
          "an embedding's change cannot be written as lora_A/lora_B; use the merged model");
    }
    Svd svd = svdOfUpdate(merged.b(), merged.a());
    double[] s = svd.s();
    double tolerance = s[0] * Math.max(merged.out(), merged.in()) * Math.ulp(1.0);
    int nonzero = 0;
    while (nonzero < s.length && s[nonzero] > tolerance) {
      nonzero++;
    }
    int kept = Math.min(rank, nonzero);
    double keptSquares = 0;
    double allSquares = 0;
    for (int j = 0; j < s.length; j++) {
      allSquares += s[j] * s[j];
      keptSquares += j < kept ? s[j] * s[j] : 0;
    }
    Matrix b = svd.u().columns(0, kept).scaleColumns(Arrays.copyOf(s, kept));
    Matrix a = svd.vt().rowRange(0, kept);
    return new ExtractedLora(
        merged.key(),
        new MergedModule(
            merged.key(), b, a, merged.components(), merged.usedPerTask(), merged.diagnostics()),
        Math.sqrt(keptSquares / allSquares),
        null);
  }

  /** The thin SVD of {@code b @ a}, from the small core {@code R_b a} when {@code b} is thin. */
  private static Svd svdOfUpdate(Matrix b, Matrix a) {
    if (b.cols >= Math.min(b.rows, a.cols)) {
      return Decompositions.thinSvd(b.multiply(a));
    }
    var qr = Decompositions.thinQr(b);
    Svd core = Decompositions.thinSvd(qr.r().multiply(a));
    return new Svd(qr.q().multiply(core.u()), core.s(), core.vt());
  }
}
