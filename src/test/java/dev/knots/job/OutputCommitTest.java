package dev.knots.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.io.FileStore;
import dev.knots.io.ForwardingFileStore;
import dev.knots.io.LocalFileStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Publishing on a store that renames atomically, with two runs interleaved at the steps where they
 * can collide: whatever the order, the output is absent or a complete merge of one run, and nothing
 * is left beside it. Each run's staging directory holds a file naming the run, so the test can tell
 * whose output was published.
 */
class OutputCommitTest {
  private static final byte[] REPORT = "{}".getBytes(StandardCharsets.UTF_8);

  @TempDir Path temp;

  @Test
  void anOutputPublishedMeanwhileIsKeptWithoutOverwrite() throws IOException {
    FileStore store = new LocalFileStore();
    String output = temp.resolve("out").toString();
    OutputCommit first = begin(store, output, false, "first");
    OutputCommit second = begin(store, output, false, "second");
    second.commit(REPORT, "merge_report.json");

    OutputCommit.OutputExistsException refused =
        assertThrows(
            OutputCommit.OutputExistsException.class,
            () -> first.commit(REPORT, "merge_report.json"));
    assertTrue(
        refused.getMessage().contains("another run wrote it while this one was running"),
        refused.getMessage());
    first.abort();
    assertPublishedBy("second");
    assertNothingBeside();
  }

  @Test
  void overwriteReplacesAnOutputPublishedBetweenItsTwoRenames() throws IOException {
    String output = temp.resolve("out").toString();
    publishOld(output);
    List<OutputCommit> other = new ArrayList<>();
    List<String> seenByOther = new ArrayList<>();
    // when the first run has moved the old output aside, the other run publishes
    FileStore store =
        new Hooked(
            new LocalFileStore(),
            (from, to) -> {
              if (to != null && from.equals(output) && other.size() == 1) {
                OutputCommit second = other.remove(0);
                second.commit(REPORT, "merge_report.json");
                seenByOther.add(publisher(output));
              }
            });
    OutputCommit first = begin(store, output, true, "first");
    other.add(begin(new LocalFileStore(), output, true, "second"));

    first.commit(REPORT, "merge_report.json");

    assertEquals(List.of("second"), seenByOther, "the other run published in between");
    assertPublishedBy("first");
    assertNothingBeside();
  }

  @Test
  void anOutputIsNeverSeenWithoutItsSuccessMarker() throws IOException {
    String output = temp.resolve("out").toString();
    publishOld(output);
    List<String> violations = new ArrayList<>();
    FileStore store =
        new Hooked(
            new LocalFileStore(),
            (from, to) -> {
              Path out = Path.of(output);
              if (Files.exists(out) && !Files.exists(out.resolve(OutputCommit.SUCCESS))) {
                violations.add("before renaming " + from + " to " + to);
              }
            });
    OutputCommit first = begin(store, output, true, "first");
    OutputCommit second = begin(store, output, true, "second");
    first.commit(REPORT, "merge_report.json");
    second.commit(REPORT, "merge_report.json");
    assertEquals(List.of(), violations);
    assertPublishedBy("second");
    assertNothingBeside();
  }

  /**
   * Another run moves the output aside just before this one would, then publishes before this run's
   * next step: this run meets no output to move, then the other's output, and replaces it.
   */
  @Test
  void anOutputMovedAsideByAnotherRunFirstIsReplacedWhenItReturns() throws IOException {
    String output = temp.resolve("out").toString();
    publishOld(output);
    FileStore plain = new LocalFileStore();
    OutputCommit other = begin(plain, output, true, "other");
    Files.writeString(Path.of(other.staging(), OutputCommit.SUCCESS), "complete\n");
    Files.writeString(Path.of(other.staging(), "merge_report.json"), "{}");
    String othersAside = temp.resolve("_out.knots-replaced-other-1").toString();
    int[] step = {0};
    FileStore store =
        new Hooked(
            plain,
            (from, to) -> {
              if (step[0] == 0 && to != null && to.contains(".knots-replaced-")) {
                step[0] = 1;
                plain.rename(output, othersAside);
              } else if (step[0] == 1) {
                step[0] = 2;
                plain.rename(other.staging(), output);
                plain.deleteRecursively(othersAside);
              }
            });
    OutputCommit commit = begin(store, output, true, "this");
    commit.commit(REPORT, "merge_report.json");
    assertEquals(2, step[0], "the other run moved the output aside, then published");
    assertPublishedBy("this");
    assertNothingBeside();
  }

  @Test
  void aFailedPublishPutsTheReplacedOutputBack() throws IOException {
    String output = temp.resolve("out").toString();
    publishOld(output);
    FileStore store =
        new Hooked(
            new LocalFileStore(),
            (from, to) -> {
              if (output.equals(to)) {
                throw new IOException("Cannot rename " + from + ": no space left on device");
              }
            });
    OutputCommit commit = begin(store, output, true, "new");
    IOException failed =
        assertThrows(IOException.class, () -> commit.commit(REPORT, "merge_report.json"));
    assertTrue(failed.getMessage().contains("no space left on device"), failed.getMessage());
    commit.abort();
    assertPublishedBy("old");
    assertNothingBeside();
  }

  @Test
  void aFileAtTheOutputIsRefusedAsAFileEvenWithOverwrite() throws IOException {
    Path file = Files.writeString(temp.resolve("notes.txt"), "mine");
    for (boolean overwrite : new boolean[] {false, true}) {
      IOException refused =
          assertThrows(
              IOException.class,
              () -> OutputCommit.begin(new LocalFileStore(), file.toString(), overwrite));
      assertEquals(
          "Cannot write the merge to "
              + file
              + ": it is a file, not a directory. Choose another --output; --overwrite replaces"
              + " only a directory.",
          refused.getMessage());
    }
    assertEquals("mine", Files.readString(file));
  }

  @Test
  void anExistingDirectoryWithoutMarkerIsNotCalledAMerge() throws IOException {
    Path mine = Files.createDirectories(temp.resolve("mine"));
    IOException refused =
        assertThrows(
            IOException.class,
            () -> OutputCommit.begin(new LocalFileStore(), mine.toString(), false));
    assertTrue(
        refused.getMessage().contains("it already exists, without _SUCCESS, so it is not a"),
        refused.getMessage());
  }

  @Test
  void leftoversOfOtherRunsBesideTheOutputAreListed() throws IOException {
    Path staging = Files.createDirectories(temp.resolve("_out.knots-staging-1234"));
    Path replaced = Files.createDirectories(temp.resolve("_out.knots-replaced-99-1"));
    Files.createDirectories(temp.resolve("_outer.knots-staging-5678"));
    Files.createDirectories(temp.resolve("_out.other"));
    assertEquals(
        List.of(replaced.toString(), staging.toString()),
        OutputCommit.leftovers(new LocalFileStore(), temp.resolve("out") + "/"));
  }

  /** A sweep's points: the leftovers of all of them, each directory listed once. */
  @Test
  void leftoversOfManyOutputsListEachDirectoryOnce() throws IOException {
    Path a = Files.createDirectories(temp.resolve("a"));
    Path b = Files.createDirectories(temp.resolve("b"));
    Path staging = Files.createDirectories(a.resolve("_p1.knots-staging-1234"));
    Path replaced = Files.createDirectories(b.resolve("_p2.knots-replaced-99-1"));
    Files.createDirectories(a.resolve("_p3.knots-staging-5678"));
    Files.createDirectories(a.resolve("p2"));
    List<String> listed = new ArrayList<>();
    FileStore store =
        new ForwardingFileStore(new LocalFileStore()) {
          @Override
          public List<String> list(String directory) throws IOException {
            listed.add(directory);
            return super.list(directory);
          }
        };
    List<String> outputs =
        List.of(
            a.resolve("p1").toString(),
            a.resolve("p2").toString(),
            b.resolve("p1").toString(),
            b.resolve("p2").toString(),
            temp.resolve("c/p1").toString());
    assertEquals(
        List.of(staging.toString(), replaced.toString()), OutputCommit.leftovers(store, outputs));
    assertEquals(List.of(a + "/", b + "/"), listed);
  }

  private void publishOld(String output) throws IOException {
    begin(new LocalFileStore(), output, false, "old").commit(REPORT, "merge_report.json");
  }

  private static OutputCommit begin(FileStore store, String output, boolean overwrite, String run)
      throws IOException {
    OutputCommit commit = OutputCommit.begin(store, output, overwrite);
    Files.writeString(Path.of(commit.staging(), "run.txt"), run);
    return commit;
  }

  private static String publisher(String output) throws IOException {
    Path out = Path.of(output);
    assertTrue(Files.exists(out.resolve(OutputCommit.SUCCESS)), "_SUCCESS in " + out);
    assertTrue(Files.exists(out.resolve("merge_report.json")), "report in " + out);
    return Files.readString(out.resolve("run.txt"));
  }

  private void assertPublishedBy(String run) throws IOException {
    assertEquals(run, publisher(temp.resolve("out").toString()));
  }

  private void assertNothingBeside() throws IOException {
    try (Stream<Path> files = Files.list(temp)) {
      assertEquals(
          List.of("out"),
          files.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".txt")).toList());
    }
  }

  /**
   * Runs a hook before every rename and existence check ({@code to} is null then), which may act as
   * another run or fail the rename.
   */
  private static final class Hooked extends ForwardingFileStore {
    private final RenameHook hook;

    Hooked(FileStore delegate, RenameHook hook) {
      super(delegate);
      this.hook = hook;
    }

    @Override
    public void rename(String from, String to) throws IOException {
      hook.before(from, to);
      super.rename(from, to);
    }

    @Override
    public boolean exists(String location) throws IOException {
      hook.before(location, null);
      return super.exists(location);
    }
  }

  private interface RenameHook {
    /** Before renaming {@code from} to {@code to}, or checking that {@code from} exists. */
    void before(String from, String to) throws IOException;
  }
}
