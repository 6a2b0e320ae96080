package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.ShardedModelWriter;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.job.MergedModule;
import dev.knots.job.ModelWriter;
import dev.knots.job.PlainTensorMerge;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.api.java.function.PairFlatMapFunction;
import scala.Tuple2;

/**
 * Writes the merged full model: one task per shard of the base model, each streaming its base
 * tensors and adding the merged updates that fall in it (shipped there as low-rank factors) and
 * merging the small tensors KnOTS cannot align that live in it; the driver writes the shard index
 * last.
 */
final class ModelOutput {

  private ModelOutput() {}

  static void write(
      JavaRDD<MergedLayer> merged,
      FileStore store,
      HfModelFiles base,
      String directory,
      PlainTensorMerge plain,
      boolean fanInFanOut)
      throws IOException {
    List<HfModelFiles.Shard> shards = base.shards();
    Map<String, Integer> shardOfWeight = new HashMap<>();
    for (int i = 0; i < shards.size(); i++) {
      for (TensorInfo tensor : shards.get(i).header().tensors()) {
        shardOfWeight.put(tensor.name(), i);
      }
    }
    // HashPartitioner sends integer key i to partition i: partition index = shard index.
    merged
        .flatMapToPair(new ByShard(shardOfWeight))
        .partitionBy(new HashPartitioner(shards.size()))
        .mapPartitionsWithIndex(new WriteShard(store, shards, directory, plain, fanInFanOut), true)
        .count();
    if (base.isSharded()) {
      ShardedModelWriter.writeIndex(store, directory, base.layout());
    }
  }

  private static final class ByShard
      implements PairFlatMapFunction<MergedLayer, Integer, MergedModule> {
    private static final long serialVersionUID = 1L;
    private final Map<String, Integer> shardOfWeight;

    ByShard(Map<String, Integer> shardOfWeight) {
      this.shardOfWeight = shardOfWeight;
    }

    @Override
    public Iterator<Tuple2<Integer, MergedModule>> call(MergedLayer layer) {
      List<Tuple2<Integer, MergedModule>> out = new ArrayList<>();
      for (MergedModule module : layer.modules()) {
        out.add(new Tuple2<>(shardOfWeight.get(ModelWriter.weightName(module.key())), module));
      }
      return out.iterator();
    }
  }

  private static final class WriteShard
      implements Function2<Integer, Iterator<Tuple2<Integer, MergedModule>>, Iterator<String>> {
    private static final long serialVersionUID = 1L;
    private final FileStore store;
    private final List<HfModelFiles.Shard> shards;
    private final String directory;
    private final PlainTensorMerge plain;
    private final boolean fanInFanOut;

    WriteShard(
        FileStore store,
        List<HfModelFiles.Shard> shards,
        String directory,
        PlainTensorMerge plain,
        boolean fanInFanOut) {
      this.store = store;
      this.shards = List.copyOf(shards);
      this.directory = directory;
      this.plain = plain;
      this.fanInFanOut = fanInFanOut;
    }

    @Override
    public Iterator<String> call(Integer shard, Iterator<Tuple2<Integer, MergedModule>> modules)
        throws IOException {
      Map<String, MergedModule> byWeight = new HashMap<>();
      modules.forEachRemaining(t -> byWeight.put(ModelWriter.weightName(t._2().key()), t._2()));
      String file =
          store.resolve(directory, ShardedModelWriter.shardFileName(shard + 1, shards.size()));
      // A failed earlier attempt may have left a partial shard; the retry writes the same bytes.
      if (store.exists(file)) {
        store.deleteRecursively(file);
      }
      ModelWriter.writeShard(
          store, shards.get(shard), shard, shards.size(), directory, byWeight, plain, fanInFanOut);
      return List.of(file).iterator();
    }
  }
}
