package dev.knots.io;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Locations of the real fixtures copied to {@code src/test/resources/fixtures}. */
public final class Fixtures {

  /** The eight task adapters, in the canonical task order of the expected outputs. */
  public static final String[] TASKS = {
    "rot90", "hflip", "invert", "rot180_parity", "transpose_mod3", "vflip_ge5", "shift_down2", "identity_reverse"
  };

  private Fixtures() {}

  /** The fixture directory or file at {@code relative} (for example {@code adapters/rot90}) as a plain path. */
  public static String path(String relative) {
    return root().resolve(relative).toString();
  }

  private static Path root() {
    URL url = Fixtures.class.getResource("/fixtures");
    if (url == null) {
      throw new IllegalStateException("test resources lack fixtures/");
    }
    try {
      return Paths.get(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }
}
