package dev.knots.merge;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The registry of merge methods, by the name users pass to {@code --method}. */
public final class MergeMethods {
  private static final String TA = "Editing Models with Task Arithmetic, Ilharco et al., ICLR 2023";
  private static final String TIES = "TIES-Merging, Yadav et al., NeurIPS 2023";
  private static final String DARE = "Language Models are Super Mario (DARE), Yu et al., ICML 2024";
  private static final String KNOTS =
      "Model merging with SVD to tie the KnOTS, Stoica et al., ICLR 2025";

  private static final Map<String, MergeMethod> BY_NAME =
      register(
          plain("ta", "task arithmetic: scaled sum of the updates", TA, false, Combine.SUM),
          plain(
              "ties",
              "TIES: top-K, sign election, disjoint mean",
              TIES,
              false,
              Combine.DISJOINT_MEAN),
          plain("dare-ties", "DARE drop-and-rescale, then TIES", DARE, true, Combine.DISJOINT_MEAN),
          plain("dare-linear", "DARE drop-and-rescale, then a scaled sum", DARE, true, Combine.SUM),
          knots("knots-ta", "task arithmetic in the KnOTS-aligned space", false, Combine.SUM),
          knots("knots-ties", "TIES in the KnOTS-aligned space", false, Combine.DISJOINT_MEAN),
          knots(
              "knots-dare-ties",
              "DARE-TIES in the KnOTS-aligned space",
              true,
              Combine.DISJOINT_MEAN),
          knots("knots-dare-linear", "DARE-linear in the KnOTS-aligned space", true, Combine.SUM));

  private static final String KNOTS_PREFIX = "knots-";

  private MergeMethods() {}

  /** The method called {@code name}; fails naming the known methods otherwise. */
  public static MergeMethod byName(String name) {
    MergeMethod method = BY_NAME.get(name);
    if (method == null) {
      throw new InvalidOptionException(
          "--method", name, "unknown method; choose one of " + String.join(", ", names()));
    }
    return method;
  }

  /**
   * The method that merges plain updates the same way: {@code ties} for {@code knots-ties}, the
   * method itself when it is plain. For tensors KnOTS cannot align (vectors).
   */
  public static MergeMethod plainCounterpart(MergeMethod method) {
    return method.aligned() ? byName(method.name().substring(KNOTS_PREFIX.length())) : method;
  }

  /** Every method, in the order {@code --help} lists them. */
  public static List<MergeMethod> all() {
    return List.copyOf(BY_NAME.values());
  }

  public static List<String> names() {
    return List.copyOf(BY_NAME.keySet());
  }

  private static MergeMethod plain(
      String name, String summary, String reference, boolean dare, Combine combine) {
    return new GeneralizedTaskArithmetic(name, summary, reference, false, dare, combine);
  }

  private static MergeMethod knots(String name, String summary, boolean dare, Combine combine) {
    String reference = dare ? KNOTS + "; " + DARE : KNOTS;
    return new GeneralizedTaskArithmetic(name, summary, reference, true, dare, combine);
  }

  private static Map<String, MergeMethod> register(MergeMethod... methods) {
    Map<String, MergeMethod> byName = new LinkedHashMap<>();
    for (MergeMethod method : methods) {
      byName.put(method.name(), method);
    }
    return Collections.unmodifiableMap(byName);
  }
}
