#!/usr/bin/env python3
"""Accuracy of a merged adapter on the bundled digits tasks (examples/digits).

    evaluate_merge.py --adapter out/example-merge [--examples examples/digits] [--split test]

Loads the base model with the merged adapter (PeftModel.from_pretrained), computes each task's
features (mean of last_hidden_state over the 64 pixel tokens), applies the task's head and prints
accuracy and normalized accuracy (merged / fine-tuned) per task and on average. Use --split val to
tune merge hyperparameters, test to report.
"""
import argparse
import json
import os

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModel


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", required=True, help="merged PEFT adapter directory")
    parser.add_argument("--examples", default="examples/digits")
    parser.add_argument("--split", default="test", choices=["val", "test"])
    args = parser.parse_args()

    tasks = json.load(open(os.path.join(args.examples, "tasks.json")))["tasks"]
    data = load_file(os.path.join(args.examples, "eval_data.safetensors"))
    base = AutoModel.from_pretrained(os.path.join(args.examples, "base_model"), dtype=torch.float32)
    model = PeftModel.from_pretrained(base, args.adapter).eval()

    normalized = []
    print(f"{'task':18} {'accuracy':>9} {'fine-tuned':>10} {'normalized':>10}")
    with torch.no_grad():
        for task in tasks:
            name = task["name"]
            ids = data[f"{name}.{args.split}.input_ids"].long()
            labels = data[f"{name}.{args.split}.labels"]
            head = load_file(os.path.join(args.examples, "heads", f"{name}.safetensors"))
            features = model(input_ids=ids).last_hidden_state.mean(dim=1)
            predictions = (features @ head["weight"].T + head["bias"]).argmax(dim=-1)
            accuracy = (predictions == labels).float().mean().item()
            reference = task[f"finetuned_{args.split}_acc"]
            normalized.append(accuracy / reference)
            print(f"{name:18} {accuracy:9.4f} {reference:10.4f} {accuracy / reference:10.4f}")
    print(f"{'mean':18} {'':9} {'':10} {sum(normalized) / len(normalized):10.4f}")


if __name__ == "__main__":
    main()
