package dev.knots.plan;

import java.io.Serializable;

/** One module's place in the plan: what it is, which path it takes, and why. */
public record ModulePlan(ModuleSpec spec, AlignPath path, String reason) implements Serializable {

  public String key() {
    return spec.key();
  }
}
