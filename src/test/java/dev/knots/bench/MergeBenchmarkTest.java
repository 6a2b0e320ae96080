package dev.knots.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.bench.IoFloor.Timing;
import dev.knots.bench.SyntheticAdapters.Spec;
import dev.knots.io.safetensors.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark harness, against a stand-in launcher that writes a stub merge_report.json (the real
 * job is tested end to end by its own author).
 */
class MergeBenchmarkTest {

  private static final String STUB_REPORT =
      """
      {"timings": {"sparkStartSeconds": 2.0, "totalSeconds": 3.5, "alignSeconds": 1.0},
       "bytes": {"read": 1000, "written": 2048}, "memory": {"driverPeakHeapBytes": 1048576}}""";

  /** A synthetic set of 3 adapters x 2 layers, hidden 64, kv 32, rank 4: generated in a blink. */
  private static final List<String> SMALL_SET =
      List.of("--layers", "2", "--adapters", "3", "--hidden", "64", "--kv", "32", "--rank", "4");

  @TempDir Path tmp;

  @Test
  void optionsDefaultToTheLlamaSetUnderTargetBench() {
    MergeBenchmark.Options o = MergeBenchmark.Options.parse("--root", tmp.toString());
    assertEquals(Spec.llama3_8b(), o.spec);
    assertEquals(tmp.resolve("target/bench"), o.work);
    assertEquals(tmp.resolve("scripts/knots-merge"), o.launcher);
    assertEquals("knots-ties", o.method);
    assertTrue(o.dropCaches);
    List<String> args = new ArrayList<>(List.of("--root", tmp.toString()));
    args.addAll(SMALL_SET);
    args.addAll(
        List.of(
            "--seed",
            "7",
            "--work",
            "w",
            "--master",
            "local[2]",
            "--method",
            "knots-ta",
            "--skip-generate",
            "--no-drop-caches"));
    MergeBenchmark.Options tiny = MergeBenchmark.Options.parse(args.toArray(String[]::new));
    assertEquals(new Spec(3, 2, 64, 32, 4, 8, DType.F32, 7), tiny.spec);
    assertEquals(Path.of("w").toAbsolutePath(), tiny.work);
    assertTrue(tiny.skipGenerate && !tiny.dropCaches);
    assertNull(MergeBenchmark.Options.parse("--help"));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> MergeBenchmark.Options.parse("--format", "gguf"));
    assertEquals("--format must be adapter, model or both, not gguf", e.getMessage());
  }

  @Test
  void commandPutsSparkOptionsBeforeTheSubcommand() {
    MergeBenchmark.Options o =
        MergeBenchmark.Options.parse("--root", "/p", "--master", "local[2]", "--format", "both");
    List<String> c = MergeBenchmark.command(o, List.of("/a/0", "/a/1"), Path.of("/out"));
    assertEquals(
        List.of(
            "/p/scripts/knots-merge",
            "--master",
            "local[2]",
            "merge",
            "--adapters",
            "/a/0,/a/1",
            "--method",
            "knots-ties",
            "--top-k",
            "20",
            "--scaling",
            "0.6",
            "--output",
            "/out",
            "--overwrite",
            "--format",
            "both",
            "--base",
            "/p/target/bench/adapters/base"),
        c);
  }

  @Test
  void readsTheReportAndTheProcessUsage() throws IOException {
    Path report = Files.writeString(tmp.resolve("report.json"), STUB_REPORT);
    assertEquals(
        new ReportFigures(2.0, 3.5, 1000L, 2048L, 1048576L, Map.of("align", 1.0)),
        ReportFigures.read(report));
    Path partial =
        Files.writeString(tmp.resolve("partial.json"), "{\"timings\": {\"totalSeconds\": 4}}");
    assertEquals(
        new ReportFigures(null, 4.0, null, null, null, Map.of()), ReportFigures.read(partial));
    Path time =
        Files.writeString(
            tmp.resolve("time.txt"),
            "\tUser time (seconds): 12.25\n\tSystem time (seconds): 3.50\n"
                + "\tElapsed (wall clock) time (h:mm:ss or m:ss): 0:01.00\n"
                + "\tMaximum resident set size (kbytes): 123456\n");
    ProcessUsage usage = ProcessUsage.read(time);
    assertEquals(new ProcessUsage(123456L * 1024, 12.25, 3.5), usage);
    assertEquals(15.75, usage.cpuSeconds(), 1e-12);
    assertEquals(ProcessUsage.NONE, ProcessUsage.read(tmp.resolve("missing.txt")));
    assertNull(ProcessUsage.NONE.cpuSeconds());
  }

  @Test
  void ratioIsWallOverSparkStartPlusIoFloor() {
    Map<String, Double> phases = new LinkedHashMap<>();
    phases.put("align", 1.25);
    phases.put("merge", 0.5);
    BenchmarkResult met = result(7.0, new ReportFigures(4.0, 6.5, 10L, 20L, 30L, phases));
    assertEquals(7.0 / (4.0 + 0.5 + 0.5), met.ratio(), 1e-12);
    assertTrue(met.table().contains("1.40   how far from"), met.table());
    assertTrue(
        met.table()
            .contains("2.50 s   user 2.0 s + system 0.5 s, /usr/bin/time -v: 0.36 of 2 cores"),
        met.table());
    assertTrue(
        met.table().lines().anyMatch(l -> l.trim().startsWith("align") && l.contains("1.25 s")),
        met.table());
    assertTrue(
        met.table().indexOf("  align") < met.table().indexOf("  merge "), "phases in run order");
    BenchmarkResult unknown = result(8.0, ReportFigures.none());
    assertNull(unknown.ratio());
    assertTrue(unknown.table().contains("n/a   how far from"), unknown.table());
    ObjectNode json = met.toJson();
    assertEquals(1.4, json.get("ratio").doubleValue(), 1e-12);
    assertEquals(1.0, json.get("ioFloor").get("totalSeconds").doubleValue(), 1e-12);
    assertEquals(30, json.get("driverPeakHeapBytes").longValue());
    assertEquals(1.25, json.get("phaseSeconds").get("align").doubleValue(), 1e-12);
    assertEquals(2.5 / 7.0, json.get("averageCoresBusy").doubleValue(), 1e-12);
    assertEquals(2, json.get("cores").intValue());
  }

  @Test
  void stopsAMergeThatOutrunsTheTimeoutAfterDumpingItsThreads() throws Exception {
    String classpath =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Path launcher =
        standInLauncher(
            "hung-launcher",
            "exec '" + java + "' -cp '" + classpath + "' " + HungMerge.class.getName());
    MergeBenchmark.Options o = smallSetRunBy(launcher, "--timeout", "3");
    assertEquals(3, o.timeoutSeconds);
    long start = System.nanoTime();
    BenchmarkResult r = MergeBenchmark.run(o);
    assertEquals(MergeBenchmark.TIMED_OUT, r.exitCode());
    assertTrue((System.nanoTime() - start) / 1e9 < 60, "the harness waited past its timeout");
    assertTrue(!r.committed());
    String log = Files.readString(tmp.resolve("bench/merge.log"));
    assertTrue(log.contains("hung merge started"), log);
    assertTrue(log.contains("Full thread dump"), log);
    assertTrue(log.contains("at " + HungMerge.class.getName() + ".main"), log);
    assertTrue(
        ProcessHandle.allProcesses()
            .noneMatch(
                p ->
                    p.info()
                        .commandLine()
                        .map(c -> c.contains(HungMerge.class.getName()))
                        .orElse(false)),
        "the hung JVM outlived the harness");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> MergeBenchmark.Options.parse("--timeout", "0"));
    assertEquals("--timeout must be a positive number of seconds, not 0", e.getMessage());
  }

  @Test
  void runsTheWholeHarnessAgainstAStandInLauncher() throws Exception {
    // Writes a stub report, 2048 bytes of output and _SUCCESS into the --output directory.
    Path launcher =
        standInLauncher(
            "stand-in-launcher",
            "set -e; while [ \"$1\" != --output ]; do shift; done; out=$2; mkdir -p \"$out\"",
            "head -c 2048 /dev/zero > \"$out/adapter_model.safetensors\"",
            "cat > \"$out/merge_report.json\" <<'EOF'",
            STUB_REPORT,
            "EOF",
            "touch \"$out/_SUCCESS\"; echo stand-in done");
    MergeBenchmark.Options o = smallSetRunBy(launcher);
    BenchmarkResult r = MergeBenchmark.run(o);
    assertEquals(0, r.exitCode());
    assertTrue(r.committed());
    assertEquals(2.0, r.report().sparkStartSeconds());
    long inputs = 0;
    for (int i = 0; i < 3; i++) {
      Path dir = tmp.resolve("bench/adapters").resolve(SyntheticAdapters.adapterName(i));
      inputs +=
          Files.size(dir.resolve("adapter_model.safetensors"))
              + Files.size(dir.resolve("adapter_config.json"));
    }
    assertEquals(inputs, r.read().bytes(), "every input byte once");
    long output = 2048 + STUB_REPORT.length() + 1; // the heredoc ends the report with a newline
    assertEquals(output, r.write().bytes(), "the output's size on disk");
    assertEquals("--no-drop-caches", r.pageCache());
    assertTrue(Files.readString(tmp.resolve("bench/merge.log")).contains("stand-in done"));
    assertTrue(r.wallSeconds() > 0);
  }

  private static BenchmarkResult result(double wall, ReportFigures report) {
    return new BenchmarkResult(
        Spec.llama3_8b(),
        "knots-ties",
        null,
        null,
        List.of("x"),
        0,
        wall,
        new Timing(100, 0.5),
        new Timing(50, 0.5),
        report,
        true,
        new ProcessUsage(4096L, 2.0, 0.5),
        2);
  }

  /** An executable bash script in the temporary directory, standing in for the launcher. */
  private Path standInLauncher(String name, String... lines) throws IOException {
    Path launcher = tmp.resolve(name);
    Files.writeString(launcher, "#!/usr/bin/env bash\n" + String.join("\n", lines) + "\n");
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
    return launcher;
  }

  /** Options for a small synthetic set under tmp/bench, merged by {@code launcher}. */
  private MergeBenchmark.Options smallSetRunBy(Path launcher, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of("--work", tmp.resolve("bench").toString(), "--launcher", launcher.toString()));
    args.addAll(SMALL_SET);
    args.add("--no-drop-caches");
    args.addAll(List.of(more));
    return MergeBenchmark.Options.parse(args.toArray(String[]::new));
  }
}
