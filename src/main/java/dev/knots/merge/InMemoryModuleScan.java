package dev.knots.merge;

import java.io.Serializable;
import java.util.List;

/** A {@link ModuleScan} over vectors held in this JVM. */
public final class InMemoryModuleScan implements ModuleScan {
  private final List<ModuleVectors> modules;

  public InMemoryModuleScan(List<ModuleVectors> modules) {
    this.modules = List.copyOf(modules);
  }

  @Override
  public <S extends Mergeable<S> & Serializable> S aggregate(S zero, Fold<S> add) {
    S acc = zero;
    for (ModuleVectors module : modules) {
      acc = add.apply(acc, module);
    }
    return acc;
  }
}
