package dev.knots.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Invalid options fail before any work, naming the option and the allowed range. */
class MergeOptionsTest {

  @ParameterizedTest
  @ValueSource(doubles = {0, -5, 100.5, Double.NaN})
  void topKOutsideZeroToHundredIsRefused(double topK) {
    InvalidOptionException e =
        assertThrows(InvalidOptionException.class, () -> MergeParameters.defaults().withTopK(topK));
    assertEquals("--top-k", e.option());
    assertTrue(e.getMessage().contains("(0, 100]"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(doubles = {-0.1, 1.0, 2})
  void dareDropOutsideZeroToOneIsRefused(double p) {
    InvalidOptionException e =
        assertThrows(InvalidOptionException.class, () -> MergeParameters.defaults().withDare(p, 0));
    assertEquals("--dare-drop", e.option());
    assertTrue(e.getMessage().contains("[0, 1)"), e.getMessage());
  }

  @Test
  void scalingMustBeOneValueOrOnePerAdapter() {
    MergeParameters parameters = MergeParameters.defaults().withScaling(List.of(1.0, 2.0));
    InvalidOptionException e =
        assertThrows(InvalidOptionException.class, () -> parameters.checkTaskCount(3));
    assertTrue(e.getMessage().contains("one per adapter (3 adapters)"), e.getMessage());
    assertEquals(2.0, parameters.checkTaskCount(2).scaling(1));
    assertThrows(
        InvalidOptionException.class,
        () -> MergeParameters.defaults().withScaling(List.of(Double.POSITIVE_INFINITY)));
    assertThrows(
        InvalidOptionException.class, () -> MergeParameters.defaults().withScaling(List.of()));
  }

  @Test
  void unknownMethodNamesTheKnownOnes() {
    InvalidOptionException e =
        assertThrows(InvalidOptionException.class, () -> MergeMethods.byName("knots-magic"));
    assertEquals("--method", e.option());
    assertTrue(e.getMessage().contains("knots-magic"), e.getMessage());
    assertTrue(e.getMessage().contains("knots-dare-linear"), e.getMessage());
  }

  @Test
  void unknownScopeIsRefused() {
    InvalidOptionException e =
        assertThrows(InvalidOptionException.class, () -> Scope.parse("layer"));
    assertEquals("--scope", e.option());
  }

  @Test
  void registryHoldsTheEightMethodsAsOneGeneralizedMethod() {
    assertEquals(
        List.of(
            "ta",
            "ties",
            "dare-ties",
            "dare-linear",
            "knots-ta",
            "knots-ties",
            "knots-dare-ties",
            "knots-dare-linear"),
        MergeMethods.names());
    MergeMethod method = MergeMethods.byName("knots-dare-ties");
    assertTrue(method.aligned() && method.dropsAndRescales() && method.electsSign());
    assertEquals(Combine.SUM, MergeMethods.byName("ta").combine());
  }
}
