package dev.knots.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.linalg.Matrix;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A factor source reads the whole update or any row range of it, and both agree. */
class FactorSourceTest {

  @Test
  void rowRangesOfTheUpdateEqualTheRowsOfTheWholeUpdate() throws IOException {
    AdapterSet set =
        AdapterSet.open(
            Fixtures.STORE,
            List.of(Fixtures.path("adapters/shift_down2")),
            LoraAdapter.UnsupportedTensors.REFUSE);
    for (ModuleSpec spec : set.modules()) {
      UpdateSource source = spec.source(0).orElseThrow();
      assertTrue(source.factored());
      Matrix whole = source.read(Fixtures.STORE).delta();
      for (int[] range : new int[][] {{0, 1}, {3, 7}, {spec.out() - 5, 5}, {0, spec.out()}}) {
        Matrix rows = source.readRows(Fixtures.STORE, range[0], range[1]);
        assertEquals(range[1], rows.rows);
        assertEquals(spec.in(), rows.cols);
        for (int r = 0; r < range[1]; r++) {
          for (int c = 0; c < spec.in(); c++) {
            // The same rank-r dot products; a BLAS may order them differently, hence round-off.
            assertEquals(whole.get(range[0] + r, c), rows.get(r, c), 1e-12, spec.key());
          }
        }
      }
    }
  }
}
