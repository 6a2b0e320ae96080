#!/usr/bin/env python3
"""Load a merged adapter with real PEFT and confirm it carries the expected merged update.

    check_peft_adapter.py --base BASE_MODEL_DIR --adapter ADAPTER_DIR --expected DELTAS.safetensors

For every module in the expected file (key `<module>.weight`, the merged update `dW`, out x in):
  1. PeftModel.from_pretrained(base, adapter) must load, with a LoRA layer on the module;
  2. PEFT's own delta (lora_B @ lora_A * scaling) must match dW;
  3. merge_and_unload() must give base weight + dW.
Tolerance (docs/merging.md, section 6): relative Frobenius error <= 1e-4 and max abs error <= 1e-4 * max|dW|.
Exits non-zero, naming the module, on the first failure.
"""
import argparse
import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModel

TOL = 1e-4


def check(name, got, want):
    got = got.double()
    want = want.double()
    if got.shape != want.shape:
        sys.exit(f"FAIL {name}: shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    rel = (got - want).norm() / max(want.norm(), 1e-30)
    worst = (got - want).abs().max() / max(want.abs().max(), 1e-30)
    if rel > TOL or worst > TOL:
        sys.exit(f"FAIL {name}: relative Frobenius error {rel:.3e}, max error {worst:.3e} of max|dW| (tolerance {TOL})")
    return float(rel)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--adapter", required=True)
    parser.add_argument("--expected", required=True)
    args = parser.parse_args()

    expected = load_file(args.expected)
    base = AutoModel.from_pretrained(args.base, dtype=torch.float32)
    base_weights = {k: v.clone() for k, v in base.state_dict().items()}
    model = PeftModel.from_pretrained(base, args.adapter)
    modules = dict(model.named_modules())

    worst = 0.0
    for key, delta in sorted(expected.items()):
        module_name = key[: -len(".weight")]
        layer = modules.get(module_name)
        if layer is None or not hasattr(layer, "lora_A") or "default" not in layer.lora_A:
            sys.exit(f"FAIL {module_name}: PEFT did not attach a LoRA layer from {args.adapter}")
        worst = max(worst, check(module_name, layer.get_delta_weight("default"), delta))

    merged = model.merge_and_unload().state_dict()
    for key, delta in sorted(expected.items()):
        weight_key = key[len("base_model.model."):]
        check(weight_key + " after merge_and_unload", merged[weight_key] - base_weights[weight_key], delta)

    print(f"OK {args.adapter}: PEFT loads it and reproduces all {len(expected)} merged updates "
          f"(worst relative Frobenius error {worst:.2e}, tolerance {TOL})")


if __name__ == "__main__":
    main()
