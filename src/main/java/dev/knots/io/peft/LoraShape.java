package dev.knots.io.peft;

import java.io.Serializable;

/**
 * The shape of one merged module's LoRA factors: {@code B} is {@code out x rank}, {@code A} is
 * {@code rank x in}. Enough to lay out the adapter's tensors and write its config.
 */
public record LoraShape(String key, int rank, int out, int in) implements Serializable {}
