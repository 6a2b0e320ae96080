package dev.knots.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.io.ForwardingFileStore;
import dev.knots.io.LocalFileStore;
import dev.knots.knots.Concat;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.plan.VectorPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An output that is, contains or lies inside an input, and an input listed twice, are refused
 * whatever the spelling: relative paths, {@code .} and {@code ..}, trailing slashes, {@code file:}
 * URIs and symbolic links. Only the directories' names matter, so they hold no adapter.
 */
class MergeRequestLocationsTest {
  private static final LocalFileStore STORE = new LocalFileStore();

  @TempDir Path temp;
  private Path adapters;

  @BeforeEach
  void layOut() throws IOException {
    adapters = Files.createDirectories(temp.resolve("adapters"));
    Files.createDirectories(adapters.resolve("rot90"));
    Files.createDirectories(adapters.resolve("hflip"));
    Files.createDirectories(adapters.resolve("invert"));
  }

  @Test
  void anOutputOverlappingAnAdapterIsRefusedInEverySpelling() throws IOException {
    Path link = Files.createSymbolicLink(temp.resolve("link"), adapters);
    String[][] cases = {
      {adapters.toString(), "it contains --adapters entry 1"},
      {adapters + "/", "it contains --adapters entry 1"},
      {"file://" + adapters, "it contains --adapters entry 1"},
      {adapters.resolve("rot90").toString(), "it is the same directory as --adapters entry 1"},
      {adapters + "/hflip/", "it is the same directory as --adapters entry 2"},
      {adapters + "/./invert/../hflip", "it is the same directory as --adapters entry 2"},
      {link + "/rot90", "it is the same directory as --adapters entry 1"},
      {link.toString(), "it contains --adapters entry 1"},
      {adapters + "/rot90/merged", "it lies inside --adapters entry 1"},
      {temp.relativize(adapters.resolve("hflip/x")).toString(), "it lies inside"},
    };
    for (String[] c : cases) {
      MergeRequest request = adapters(List.of(adapter("rot90"), adapter("hflip")), c[0], null);
      InvalidOptionException refused =
          assertThrows(
              InvalidOptionException.class,
              () -> request.checkLocations(new RelativeTo(temp)),
              "--output " + c[0]);
      assertEquals("--output", refused.option());
      assertTrue(refused.getMessage().contains(c[1]), c[0] + ": " + refused.getMessage());
      assertTrue(refused.getMessage().contains("also with --overwrite"), refused.getMessage());
    }
  }

  @Test
  void anOutputBesideTheInputsIsAccepted() throws IOException {
    for (String output :
        List.of(adapters + "/rot90x", adapters + "-merged", temp.resolve("merged").toString())) {
      adapters(List.of(adapter("rot90"), adapter("hflip")), output, null).checkLocations(STORE);
    }
  }

  @Test
  void anOutputOverlappingTheBaseOrAFineTuneIsRefused() throws IOException {
    Path base = Files.createDirectories(temp.resolve("models/base"));
    MergeRequest adapterMerge =
        adapters(List.of(adapter("rot90")), base.getParent().toString(), base.toString());
    InvalidOptionException baseRefused =
        assertThrows(InvalidOptionException.class, () -> adapterMerge.checkLocations(STORE));
    assertTrue(
        baseRefused.getMessage().contains("it contains --base (" + base + ")"),
        baseRefused.getMessage());

    Path ft = Files.createDirectories(temp.resolve("ft/math"));
    MergeRequest checkpoints =
        new MergeRequest(
            List.of(),
            MergeMethods.byName("ties"),
            MergeParameters.defaults(),
            Concat.OUTPUT,
            ft + "/../math/out",
            OutputFormat.MODEL,
            Optional.of(base.toString()),
            List.of(ft.toString()),
            Optional.empty(),
            VectorPolicy.MERGE,
            OptionalInt.empty());
    InvalidOptionException ftRefused =
        assertThrows(InvalidOptionException.class, () -> checkpoints.checkLocations(STORE));
    assertTrue(
        ftRefused.getMessage().contains("it lies inside --finetuned entry 1 (" + ft + ")"),
        ftRefused.getMessage());
  }

  @Test
  void anAdapterListedTwiceUnderAnotherSpellingIsRefused() throws IOException {
    Path link = Files.createSymbolicLink(temp.resolve("link"), adapters.resolve("rot90"));
    for (String again :
        List.of(
            adapter("rot90"),
            adapters + "/../adapters/rot90/",
            "file://" + adapters.resolve("rot90"),
            link.toString(),
            "adapters/rot90")) {
      MergeRequest request =
          adapters(
              List.of(adapter("rot90"), adapter("hflip"), again),
              temp.resolve("out").toString(),
              null);
      InvalidOptionException refused =
          assertThrows(
              InvalidOptionException.class, () -> request.checkLocations(new RelativeTo(temp)));
      assertEquals("--adapters", refused.option());
      assertTrue(
          refused
              .getMessage()
              .contains(
                  "entries 1 ("
                      + adapter("rot90")
                      + ") and 3 ("
                      + again
                      + ") are the same directory; list each input once"),
          refused.getMessage());
    }
  }

  @Test
  void anOutputThatNamesNoDirectoryIsRefusedWhenTheRequestIsMade() {
    for (String output :
        List.of("", "  ", "/", "file:///", "s3a://bucket", "s3a://bucket/", ".", "out/..")) {
      InvalidOptionException refused =
          assertThrows(
              InvalidOptionException.class,
              () -> adapters(List.of(adapter("rot90")), output, null),
              "--output '" + output + "'");
      assertEquals("--output", refused.option());
      assertTrue(
          refused.getMessage().contains("give the output directory itself"), refused.getMessage());
    }
  }

  private String adapter(String name) {
    return adapters.resolve(name).toString();
  }

  private static MergeRequest adapters(List<String> adapters, String output, String base) {
    return new MergeRequest(
        adapters,
        MergeMethods.byName("ties"),
        MergeParameters.defaults(),
        Concat.OUTPUT,
        output,
        base == null ? OutputFormat.ADAPTER : OutputFormat.BOTH,
        Optional.ofNullable(base));
  }

  /** The local store, with relative paths taken from {@code directory} instead of the JVM's. */
  private static final class RelativeTo extends ForwardingFileStore {
    private final Path directory;

    RelativeTo(Path directory) {
      super(STORE);
      this.directory = directory;
    }

    @Override
    public String canonical(String location) throws IOException {
      boolean relative = !location.startsWith("/") && !location.startsWith("file:");
      return super.canonical(relative ? directory.resolve(location).toString() : location);
    }
  }
}
