# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""Checkpoints of a run in `--checkpoint_dir`: the folder's claim by one model repository, the finished
checkpoints (`checkpoint_N` with a `progress.json`), saving the training state with `Progress`, and the check
that a resumed run is the run its checkpoint continues (`run_signature`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any

from configuration_globalre import OPTIONS
from globalre_training import TrainingError
from globalre_training.data import check_label_set
from globalre_training.report import portable

logger = logging.getLogger("train")


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
    the batch and the schedule, the sampling and the model's options (`trained_options`). Saved with every
    checkpoint; resuming with any of it changed would skip a different set of examples or continue another run."""
    import hashlib

    content = json.dumps(train_docs, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return {
        "training documents": f"{len(train_docs)} documents, sha256 {hashlib.sha256(content).hexdigest()[:16]}",
        "processes": num_processes,
        **trained_options(args),
    }


# Options a checkpoint's signature records only since they exist: one saved before trained as with this value (with
# the dense embedding, say), which a run resuming it with the option on could not continue (its optimizer state).
SIGNED_LATER: dict[str, Any] = {
    "freeze_word_embeddings": False,
    "ema_decay": None,
    "evidence_loss_weight": 0.0,
}


def trained_options(args: Any) -> dict[str, Any]:
    """The options of `args` (a train.py namespace, or one rebuilt from a results.json's `args`; a missing one is
    `None`) that change what a run trains: the batch and the schedule, the sampling and the model's options."""
    keys = (
        "per_device_train_batch_size", "gradient_accumulation_steps", "num_train_epochs", "max_train_steps",
        "negative_ratio", "seed", "learning_rate", "encoder_learning_rate", "weight_decay", "lr_scheduler_type",
        "warmup_ratio", "max_grad_norm", "entity_detection", "entity_detection_loss_weight", "entity_detection_passes",
        "documents_per_batch", "encoder_attention_dropout", "encoder_hidden_dropout", "freeze_word_embeddings",
        "ema_decay",
    )  # fmt: skip
    options = {key: getattr(args, key, None) for key in keys}
    # how logits become relations (threshold, type constraints, ...) does not change what is trained
    options.update(
        {
            option.name: portable(getattr(args, option.name, None))
            for option in OPTIONS
            if option.cli and option.role != "decision"
        }
    )
    return options


def checkpoint_root(checkpoint_dir: str) -> str:
    """Where accelerate's automatically named checkpoints (`checkpoint_N`) of a run go."""
    return os.path.join(checkpoint_dir, "checkpoints")


def best_model_dir(checkpoint_dir: str) -> str:
    """Where `--model_selection best_dev` keeps the model of the best epoch so far (`save_pretrained`)."""
    return os.path.join(checkpoint_dir, "best")


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


def checkpoint_folders(checkpoint_dir: str) -> list[str]:
    """The names of every `checkpoint_N` folder, finished or not: accelerate numbers the next one after all."""
    root = checkpoint_root(checkpoint_dir)
    names = os.listdir(root) if os.path.isdir(root) else []
    return sorted(name for name in names if re.fullmatch(r"checkpoint_\d+", name))


def claim_checkpoint_dir(args: argparse.Namespace, accelerator) -> None:
    """Makes --checkpoint_dir this run's: refused when it belongs to another model repository's run, or holds
    checkpoints while this run does not resume (they would be rotated away, or resumed later by mistake); a
    checkpoint that a killed run left half-written (no progress.json) is removed, so accelerate's rotation counts
    only good ones. Called in `prepare`, before the model is built: a run that fails after it leaves the folder
    claimed for its --output_dir (the same command runs again; another --output_dir needs another folder)."""
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
        for name in checkpoint_folders(args.checkpoint_dir):
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


def checkpoint_to_resume(args: argparse.Namespace, label_set, signature: dict[str, Any]) -> str:
    """The checkpoint --resume_from_checkpoint names ("latest": the newest finished one), after checking that it
    continues this run: the same label set and `run_signature` (`signature`). Called in `prepare`, so that a
    refused resume costs no caching or encoding pass."""
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
    reason = "no list of labels"
    with open(os.path.join(path, "progress.json"), encoding="utf-8") as handle:
        try:
            saved = json.load(handle)
        except json.JSONDecodeError as error:
            saved, reason = None, f"not valid JSON ({error})"
    if not isinstance(saved, dict) or not isinstance(saved.get("labels"), list):
        raise TrainingError(
            f"--resume_from_checkpoint {path}: its progress.json is damaged ({reason}); resume from an earlier "
            "checkpoint or start afresh"
        )
    check_label_set(saved["labels"], label_set, f"checkpoint {path}")
    recorded = {**SIGNED_LATER, **saved.get("signature", {})}
    changed = [
        f"{key}: {recorded[key]!r} then, {value!r} now"
        for key, value in signature.items()
        if key in recorded and recorded[key] != value
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
