package dev.knots.io.peft;

import dev.knots.io.safetensors.TensorInfo;

/**
 * One LoRA-adapted module of an adapter: its update is {@code scale * B @ A}, shape {@code out x
 * in}.
 *
 * @param key the module name inside the base model (PEFT's "current_key"), for example {@code
 *     layers.0.self_attn.q_proj}
 * @param a the {@code lora_A} tensor, shape {@code rank x in}
 * @param b the {@code lora_B} tensor, shape {@code out x rank}
 * @param rank the LoRA rank {@code r} of this module
 * @param in input features (columns of A)
 * @param out output features (rows of B)
 * @param scale PEFT's scaling for this module: {@code alpha / r}, or {@code alpha / sqrt(r)} with
 *     rsLoRA
 */
public record LoraModule(
    String key, TensorInfo a, TensorInfo b, int rank, int in, int out, double scale) {}
