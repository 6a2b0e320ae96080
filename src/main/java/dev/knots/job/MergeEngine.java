package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.ModuleScan;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Where the steps of a merge run: in this process ({@link LocalEngine}) or on Spark executors. The
 * {@link MergeRunner} calls the steps in one sequence for every engine: align, statistics (over
 * {@link Alignment#modules}), merge and write, then commit.
 */
public interface MergeEngine {

  /** The store the engine reads inputs and writes outputs through. */
  FileStore store();

  /**
   * Aligns every module of {@code merge}'s plan, keeping the representations until the alignment is
   * closed; every merge that shares it ({@link PlannedMerge#sharesAlignmentWith}) reads them.
   */
  Alignment align(PlannedMerge merge) throws IOException;

  /** Where the merges run, for the report: engine name, versions, master. */
  Map<String, String> description();

  /** Bytes read through the engine's store so far, by every process it runs in. */
  long bytesRead();

  /** Bytes written through the engine's store so far, by every process it runs in. */
  long bytesWritten();

  /** One plan's modules, aligned, wherever the engine keeps them. */
  interface Alignment extends AutoCloseable {

    /**
     * The vectors of {@code merge} (DARE applied as its method asks), for the statistics' folds.
     */
    ModuleScan modules(PlannedMerge merge);

    /**
     * Merges every module with {@code statistics} and writes what {@code merge} asks for (adapter,
     * model or both) under {@code root}; returns each module's outcome, in plan order.
     */
    List<ModuleOutcome> mergeAndWrite(PlannedMerge merge, MergeStatistics statistics, String root)
        throws IOException;

    /** Releases the aligned modules. */
    @Override
    void close();
  }
}
