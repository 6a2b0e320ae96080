#!/usr/bin/env python3
"""Accuracy of a merged adapter on the bundled digits tasks (examples/digits).

    evaluate_merge.py --adapter out/example-merge [--examples examples/digits] [--split test]
                      [--tasks rot90,hflip] [--json]

Loads the base model with the merged adapter (PeftModel.from_pretrained), computes each task's
features (mean of last_hidden_state over the 64 pixel tokens), applies the task's head and prints
accuracy and normalized accuracy (merged / fine-tuned) per task and on average. Use --split val to
tune merge hyperparameters, test to report.

--tasks scores only the named tasks (those a merge combined). --json is for sweeps: the table goes
to standard error, and the last line on standard output is one JSON object with avg_acc,
avg_norm (the mean of accuracy / fine-tuned accuracy) and acc.<task> for every scored task.
"""
import argparse
import json
import os
import sys
from urllib.parse import urlparse


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", required=True, help="merged PEFT adapter directory")
    parser.add_argument("--examples", default="examples/digits")
    parser.add_argument("--split", default="test", choices=["val", "test"])
    parser.add_argument("--tasks", help="comma-separated task names to score (default: every task)")
    parser.add_argument("--json", action="store_true",
                        help="table on standard error, one JSON object as the last line of standard output")
    args = parser.parse_args()

    tasks_file = os.path.join(args.examples, "tasks.json")
    tasks = json.load(open(tasks_file))["tasks"]
    if args.tasks is not None:
        tasks = chosen_tasks(parser, tasks, args.tasks, tasks_file)
    # a sweep hands over its point's location, which may be written as a file: URI
    adapter = urlparse(args.adapter).path if args.adapter.startswith("file:") else args.adapter
    if not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
        parser.error(f"--adapter {args.adapter} holds no adapter_config.json: give a merged PEFT adapter "
                     "directory (a merge or sweep written with format adapter or both)")

    # imported late: a refused command line answers at once, without loading torch
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModel

    data = load_file(os.path.join(args.examples, "eval_data.safetensors"))
    base = AutoModel.from_pretrained(os.path.join(args.examples, "base_model"), dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter).eval()

    table = sys.stderr if args.json else sys.stdout
    accuracies = {}
    normalized = []
    print(f"{'task':18} {'accuracy':>9} {'fine-tuned':>10} {'normalized':>10}", file=table)
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
            accuracies[name] = accuracy
            normalized.append(accuracy / reference)
            print(f"{name:18} {accuracy:9.4f} {reference:10.4f} {accuracy / reference:10.4f}", file=table)
    average_norm = sum(normalized) / len(normalized)
    print(f"{'mean':18} {'':9} {'':10} {average_norm:10.4f}", file=table)
    if args.json:
        metrics = {"avg_acc": sum(accuracies.values()) / len(accuracies), "avg_norm": average_norm}
        metrics.update({f"acc.{name}": accuracy for name, accuracy in accuracies.items()})
        print(json.dumps(metrics), flush=True)


def chosen_tasks(parser, tasks, names, tasks_file):
    """The tasks --tasks names, in the order given; unknown names end the run with a usage error."""
    by_name = {task["name"]: task for task in tasks}
    wanted = list(dict.fromkeys(n.strip() for n in names.split(",") if n.strip()))
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        parser.error(f"--tasks: {tasks_file} has no task named {', '.join(unknown)}; "
                     f"its tasks are {', '.join(by_name)}")
    if not wanted:
        parser.error(f"--tasks names no task; the tasks of {tasks_file} are {', '.join(by_name)}")
    return [by_name[n] for n in wanted]


if __name__ == "__main__":
    main()
