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
`--entity_detection` also trains the built-in entity detector (mention tags and coreference, from the training
documents read as raw text) on the same encoder, and measures the model end to end from raw text.

The run, top to bottom (`main`): parse the arguments; prepare the data and the model; cache the pair vectors of a
frozen encoder; fit (epochs, each ending with a dev evaluation and a checkpoint); evaluate the selected model on
dev and test with the official DocRED metric (`docred_metric.score_docred`); write the repository; push it. Its
pieces (options, data, thresholds, checkpoints, evaluation, the run's report) are in the `globalre_training`
package beside this file. `OUTPUT_DIR` then holds a Hub model repository: weights, config with the remote-code
files and the pipeline registration, processor and tokenizer, a model card (`README.md` and `model_card.md`,
rendered from the run) and `results.json`. Checkpoints go to `--checkpoint_dir` (default `OUTPUT_DIR-checkpoints`,
outside the repository) and allow `--resume_from_checkpoint`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import math
import os
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NoReturn

import numpy as np
import torch
from torch.utils.data import DataLoader

from end_to_end_metric import summary_line
from globalre_training import RunInterrupted, TrainingError, reading_input
from globalre_training.arguments import parse_args, resolve_args
from globalre_training.checkpoints import (
    CHECKPOINT_OWNER,
    Progress,
    best_model_dir,
    checkpoint_folders,
    checkpoint_root,
    checkpoint_step,
    checkpoint_to_resume,
    claim_checkpoint_dir,
    list_checkpoints,
    run_signature,
    save_checkpoint,
)
from globalre_training.data import (
    Split,
    build_split,
    document_batches,
    epoch_examples,
    evidence_rows,
    load_split,
    multi_hot,
    shard_batches,
)
from globalre_training.detection import (
    DetectionData,
    choose_coreference,
    detection_scores,
    documents_of_batch,
    end_to_end,
    gold_references,
    mention_types_of,
)
from globalre_training.evaluation import (
    RngNeutral,
    degenerate_predictions,
    head_logits,
    map_documents,
    official_scores,
    predictions_of,
    rng_neutral_iter,
    score_line,
    shard_loader,
    split_logits,
    split_tensors,
)
from globalre_training.model import CachedHead, WeightAverage, build_model, optimizer_groups
from globalre_training.options import PACKAGED_ENCODERS, setup_rows
from globalre_training.report import (
    append_results,
    dataset_info,
    launcher,
    machine_info,
    portable,
    portable_argv,
    push_to_hub,
    versions,
)
from globalre_training.speed import EpochSpeed, encoder_tokens
from globalre_training.thresholds import set_thresholds
from model_card import RunResults

logger = logging.getLogger("train")


# ==============================================================================================================
# The run's state
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
    # the code's versions (commit included) as the run starts: a commit made while a long run trains is not its code
    versions: dict[str, Any] = field(default_factory=dict)
    training_seconds: float = 0.0
    progress: Progress = field(default_factory=Progress)
    # documents each process scored, padding duplicates included
    eval_docs_per_rank: dict[str, list[int]] = field(default_factory=dict)
    # what the run could not do well and says at its end (and on the model card)
    warnings: list[str] = field(default_factory=list)
    # --entity_detection: the training documents' detection features, and the end-to-end figures measured
    detection: DetectionData | None = None
    end_to_end: dict[str, Any] | None = None

    @property
    def config(self):
        return self.model.config

    @property
    def train_docs(self) -> list[dict]:
        return self.train_split.docs

    def progress_bar(self, desc: str) -> str | None:
        return None if self.args.no_progress else desc


# ==============================================================================================================
# Prepare: accelerator, documents, model, candidate pairs
# ==============================================================================================================


def prepare(args: argparse.Namespace) -> Run:
    """The accelerator, the label set, the documents and their candidate pairs, the model and its processor."""
    from accelerate.utils import set_seed

    start_time = time.time()
    accelerator = make_accelerator(args)
    set_seed(args.seed)
    if accelerator.is_main_process:
        os.makedirs(args.output_dir, exist_ok=True)
    accelerator.wait_for_everyone()

    run = Run(args=args, accelerator=accelerator, start_time=start_time, versions=versions())
    train_docs, dev_docs, test_docs = load_documents(run)
    entity_types = mention_types_of(train_docs) if args.entity_detection else []
    model, processor = run.model, run.processor = build_model(args, run.label_set, train_docs, entity_types)
    run.use_cache = model.config.freeze_encoder and not args.no_cache
    logger.info(
        "%d training, %s dev, %s test documents; %d labels (no relation: %s); encoder %s %s",
        len(train_docs),
        len(dev_docs) if dev_docs else 0,
        len(test_docs) if test_docs else 0,
        len(run.label_set),
        run.label_set.no_relation,
        args.encoder,
        "frozen, cached pair vectors"
        if run.use_cache
        else ("frozen" if model.config.freeze_encoder else "fine-tuned"),
    )
    for name, attribute, docs, option in (
        ("training", "train_split", train_docs, "train_file"),
        ("development", "dev_split", dev_docs, "dev_file"),
        ("test", "test_split", test_docs, "test_file"),
    ):
        if docs is not None:
            # a document the processor cannot encode (packed segments too long, ...): named with its file
            with reading_input(f"--{option}", getattr(args, option)):
                training = name == "training"
                split = build_split(
                    docs,
                    processor,
                    run.label_set,
                    encode=training,
                    evidence=training and args.evidence_loss_weight > 0,
                )
            setattr(run, attribute, split)
            warn_about_split(run, split, name)
    if not run.train_split.is_positive().any():
        raise TrainingError("the training documents hold no relation of the label set")
    if args.evidence_loss_weight > 0:
        describe_evidence(run.train_split, args.evidence_loss_weight)
    if args.entity_detection:
        prepare_entity_detection(run)
    model.to(accelerator.device)
    return run


def describe_evidence(split: Split, weight: float) -> None:
    """Logs how many related training pairs have evidence for the evidence loss; none is an error (the loss would
    be 0 throughout, and the run the same as without it)."""
    related = int(split.is_positive().sum())
    with_evidence = sum(bool(evidence) for evidence in split.evidence)
    if not with_evidence:
        raise TrainingError(
            f"--evidence_loss_weight {weight:g}: none of the {related} related training pairs has evidence "
            "(the labels' `evidence` sentence ids); train without it, or on documents whose labels give evidence"
        )
    logger.info(
        "evidence loss: weight %g, %d of %d related training pairs have evidence",
        weight,
        with_evidence,
        related,
    )


def prepare_entity_detection(run: Run) -> None:
    """--entity_detection: the training documents as raw text with their gold entities, turned into detection
    features once (tags, mention tokens, coreference pairs)."""
    with reading_input("--train_file", run.args.train_file):
        run.detection = DetectionData.build(
            run.train_docs, run.processor, run.config, run.args.entity_detection_loss_weight
        )
    logger.info(
        "entity detection: %d mention types (%s), %d training documents as raw text, loss weight %g",
        len(run.config.entity_types),
        ", ".join(run.config.entity_types),
        len(run.detection.features),
        run.args.entity_detection_loss_weight,
    )
    dropped = run.detection.dropped()
    if dropped:
        total = sum(len(f.mentions) for f in run.detection.features) + sum(dropped.values())
        run.warnings.append(
            f"--entity_detection: {sum(dropped.values())} of {total} gold mentions of the training documents are "
            "not trained on ("
            + ", ".join(f"{reason}: {count}" for reason, count in sorted(dropped.items()))
            + "; "
            "overlapping: nested in a longer mention, which is kept; crosses_sentence: across a sentence end of "
            "the text form, which the detector never crosses)"
        )
        logger.warning(run.warnings[-1])


def make_accelerator(args: argparse.Namespace):
    """The `Accelerator` of the run (checkpoints numbered in --checkpoint_dir, trackers), and the logging of every
    process: the main one logs, the others only errors."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

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
    if args.entity_detection:
        from accelerate import DistributedDataParallelKwargs

        # batches without detection documents leave the detector out of the forward
        accelerator_kwargs["kwargs_handlers"] = [DistributedDataParallelKwargs(find_unused_parameters=True)]
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
    return accelerator


def load_documents(run: Run) -> tuple[list[dict], list[dict] | None, list[dict] | None]:
    """The label set and the training, dev and test documents. The checkpoint folder is claimed and a resumed
    checkpoint checked as soon as the training documents are known, before any model is built."""
    from docred_data import resolve_label_set

    args = run.args
    label_source = describe_label_source(args)
    with reading_input("--label_dir" if args.label_dir else "the label set", args.label_dir):
        label_set = run.label_set = resolve_label_set(
            args.label_dir, args.train_file, (args.train_file, args.dev_file, args.test_file)
        )
    if label_set is None:
        raise TrainingError(
            "--label_dir is needed: the data files are remote and none has a rel2id.json beside it"
        )
    run.progress.labels = list(label_set.labels)
    unknown = sorted(set(args.undirected_relations or ()) - set(label_set.labels))
    if unknown:
        raise TrainingError(
            f"--undirected_relations {' '.join(unknown)}: not in the label set ({len(label_set)} labels"
            + (f", {label_source}" if label_source else "")
            + ")"
        )
    note = f" (the label set is {label_source})" if label_source else ""

    def split(name: str, docs_slice: str | None, max_docs: int | None) -> list[dict] | None:
        path = getattr(args, f"{name}_file")
        if not path:
            return None
        with reading_input(f"--{name}_file", path, note):
            docs, directions = load_split(
                path, docs_slice, label_set, max_docs, args.pair_types, args.undirected_relations
            )
        run.warnings += directions
        return docs

    train_docs = split("train", args.train_docs, args.max_train_docs)
    run.progress.signature = run_signature(args, train_docs, run.accelerator.num_processes)
    claim_checkpoint_dir(args, run.accelerator)
    if args.resume_from_checkpoint:
        run.resume_path = checkpoint_to_resume(args, label_set, run.progress.signature)
    dev_docs = split("dev", args.dev_docs, args.max_eval_docs)
    test_docs = split("test", args.test_docs, args.max_eval_docs)
    if dev_docs and os.path.abspath(args.dev_file) == os.path.abspath(args.train_file):
        overlap = {d["title"] for d in train_docs} & {d["title"] for d in dev_docs}
        if overlap:
            raise TrainingError(f"--train_docs and --dev_docs overlap ({len(overlap)} documents)")
    return train_docs, dev_docs, test_docs


def describe_label_source(args: argparse.Namespace) -> str | None:
    """Where `docred_data.resolve_label_set` takes the label set from, for errors about a relation outside it:
    the rel2id.json of --label_dir or beside the training file (None when it is made of the documents'
    relations, which then holds every relation of the data files)."""
    if args.label_dir:
        return f"the rel2id.json of --label_dir {args.label_dir}"
    if args.train_file and not args.train_file.startswith("hf://"):
        beside = os.path.join(os.path.dirname(os.path.abspath(args.train_file)), "rel2id.json")
        if os.path.isfile(beside):
            return f"{beside}, beside the training file; give --label_dir for another one"
    return None


def warn_about_split(run: Run, split: Split, name: str) -> None:
    """Says how many pairs of a split keep only part of their document, and how many related pairs are not
    candidate pairs (`--pair_types`)."""
    if split.n_truncated:
        logger.warning(
            "%d of %d %s pairs keep only part of their document (max_seq_length %d, strategy %s)",
            split.n_truncated,
            len(split),
            name,
            run.config.max_seq_length,
            run.config.long_document_strategy,
        )
    if split.n_related_outside:
        logger.warning(
            "%d related %s pairs are not candidate pairs (--pair_types %s): never trained on or predicted, "
            "counted as missed",
            split.n_related_outside,
            name,
            run.args.pair_types,
        )


# ==============================================================================================================
# Cache: a frozen encoder's pair vectors, once
# ==============================================================================================================


def cache_pair_vectors(run: Run) -> None:
    """With a frozen encoder every pair's vector is fixed: compute the training and dev pairs' once, so that the
    head trains (and dev is scored) on the cache."""
    if not run.use_cache:
        return
    start = time.time()
    reps, run.eval_docs_per_rank["train_cache"] = pair_vectors(
        run, run.train_split, "caching training pair vectors"
    )
    run.train_cache = torch.cat(reps)
    if run.dev_split is not None:
        run.dev_cache, run.eval_docs_per_rank["dev"] = pair_vectors(
            run, run.dev_split, "caching dev pair vectors"
        )
    run.cache_seconds = time.time() - start
    logger.info("cached %d training pair vectors in %.1fs", len(run.train_cache), run.cache_seconds)
    run.train_split.sequences = None  # the head trains on the cache only


def pair_vectors(run: Run, split: Split, desc: str) -> tuple[list[torch.Tensor], list[int]]:
    """The pair vectors of a split, one `(pairs, hidden)` tensor per document, and the documents each process
    encoded."""
    return map_documents(
        run.accelerator,
        len(split.docs),
        lambda docs: split_tensors(
            split, run.processor, run.model, docs, "pair_representation", run.args.max_batch_tokens
        ),
        run.args.eval_docs_per_step,
        desc=run.progress_bar(desc),
    )


def logits_of(run: Run, model, name: str) -> list[torch.Tensor]:
    """The logits of every candidate pair of the dev or test split, one tensor per document (dev from the cached
    pair vectors when there are some)."""
    if name == "dev" and run.dev_cache is not None:
        return [head_logits(model, reps) for reps in run.dev_cache]
    split = run.dev_split if name == "dev" else run.test_split
    values, run.eval_docs_per_rank[name] = split_logits(
        run.accelerator,
        split,
        run.processor,
        model,
        run.args.max_batch_tokens,
        run.args.eval_docs_per_step,
        run.progress_bar(name),
    )
    return values


# ==============================================================================================================
# Fit: epochs of training, each ending with a dev evaluation, model selection and a checkpoint
# ==============================================================================================================


@dataclass
class Training:
    """What the steps of `fit` share besides the run: the prepared model, optimizer and schedule, and the state of
    the loss log."""

    trainable: (
        Any  # what accelerate prepared: the model, or `CachedHead` around it when training on the cache
    )
    model: Any  # the unwrapped GlobalRE model (its config holds the tuned thresholds)
    optimizer: Any
    scheduler: Any
    first_loader: Any
    max_train_steps: int
    warmup_steps: int
    speed: EpochSpeed  # the epoch's seconds and share of the matmul rate, for the log
    averaged: WeightAverage | None = None  # with --ema_decay: the moving average of `model`'s weights
    bar: Any = None
    last_checkpoint: str | None = None
    running_loss: float = 0.0
    running_evidence_loss: float = 0.0  # with --evidence_loss_weight: its part of the loss, before the weight
    running_count: int = 0


def fit(run: Run) -> dict | None:
    """Trains for the epochs asked, evaluating on dev after each (thresholds tuned, the best epoch kept) and
    checkpointing. Returns a result early only when `--stop_after_steps` ends the run as if killed."""
    training = make_training(run)
    start_training(run, training)
    progress, start_epoch = run.progress, run.progress.epoch
    for epoch in range(start_epoch, run.args.num_train_epochs):
        steps_left = progress.completed_steps < training.max_train_steps
        # a checkpoint taken at the last step, before that epoch's dev evaluation, still owes the evaluation
        evaluation_pending = epoch == start_epoch and progress.batches_done > 0
        if not steps_left and not evaluation_pending:
            break
        stopped = train_epoch(run, training, epoch, skip=progress.batches_done if epoch == start_epoch else 0)
        if stopped is not None:
            return stopped
        end_epoch(run, training, epoch)
    training.bar.close()
    run.training_seconds = time.time() - run.start_time
    run.model = training.model
    # the averaged weights are the run's model; best_dev then takes its epoch's
    if training.averaged is not None:
        take_weights_and_thresholds(training.model, training.averaged.module)
    restore_best_epoch(run)
    return None


def collate_pairs(run: Run, rows: list[int]) -> dict[str, torch.Tensor]:
    """A training batch of pair indices: cached pair vectors or padded encoder inputs, with multi-hot labels (and
    with the evidence loss, each window token's sentence and each pair's evidence rows)."""
    config = run.model.config
    labels = multi_hot([run.train_split.label_ids[r] for r in rows], config.num_labels, config.no_relation_id)
    if run.use_cache:
        return {"pair_representation": run.train_cache[rows], "labels": labels}
    if run.train_split.evidence is None:  # no evidence loss (the one-pair sequences take no token_sentences)
        return {**run.train_split.sequences.pad(rows, run.processor.pad_token_id), "labels": labels}
    batch = run.train_split.sequences.pad(rows, run.processor.pad_token_id, token_sentences=True)
    return {**batch, "labels": labels, "evidence": evidence_rows(run.train_split, rows)}


def epoch_loader(run: Run, epoch: int):
    """The sharded loader of one epoch's pair examples (`epoch_examples`); a packed encoding keeps a document's
    pairs together, and with --documents_per_batch a batch holds whole documents (`document_batches`)."""
    args, accelerator, config = run.args, run.accelerator, run.model.config
    by_document = config.encoding == "packed"
    examples = epoch_examples(run.train_split, args.negative_ratio, args.seed, epoch, by_document)
    collate = partial(collate_pairs, run)
    if args.documents_per_batch:
        batches = document_batches(run.train_split, examples, args.documents_per_batch)
        if len(batches) < accelerator.num_processes:
            raise TrainingError(
                f"--documents_per_batch {args.documents_per_batch} leaves {len(batches)} batches an epoch for "
                f"{accelerator.num_processes} processes; lower it or use more documents"
            )
        own = shard_batches(batches, accelerator.num_processes, accelerator.process_index)
        return shard_loader(
            accelerator, DataLoader(examples, batch_sampler=own, collate_fn=collate), True, sharded=True
        )
    total_batch = args.per_device_train_batch_size * accelerator.num_processes
    if total_batch > len(examples):
        raise TrainingError(
            f"the batch size ({args.per_device_train_batch_size} per device x {accelerator.num_processes} "
            f"processes) is larger than the {len(examples)} training pairs of an epoch; lower "
            "--per_device_train_batch_size or use more documents"
        )
    loader = DataLoader(examples, batch_size=args.per_device_train_batch_size, collate_fn=collate)
    return shard_loader(accelerator, loader, True)


def make_training(run: Run) -> Training:
    """The optimizer (AdamW groups), the learning-rate schedule over all steps, and the model prepared by
    accelerate and registered for checkpointing with `Progress`."""
    from transformers import get_scheduler

    args, accelerator, model = run.args, run.accelerator, run.model
    trainable = CachedHead(model) if run.use_cache else model
    # the fused implementation updates all parameters in one kernel: ~8% of a fine-tuning step on 2 CPU cores
    optimizer = torch.optim.AdamW(
        optimizer_groups(model, args), fused=accelerator.device.type in ("cpu", "cuda")
    )
    first_loader = epoch_loader(run, 0)
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
    accelerator.register_for_checkpointing(run.progress)
    unwrapped = accelerator.unwrap_model(trainable)
    unwrapped = unwrapped.model if isinstance(unwrapped, CachedHead) else unwrapped
    averaged = None
    if args.ema_decay is not None:
        # every process keeps its own average, identical since distributed training keeps the weights identical
        averaged = WeightAverage(unwrapped, args.ema_decay)
        accelerator.register_for_checkpointing(averaged)
    # after the average's copy of the weights is on the device, which the batch must fit beside
    if accelerator.device.type == "cuda" and not run.use_cache:
        check_batch_fits(run, trainable, optimizer)
    speed = EpochSpeed.for_model(
        unwrapped.encoder, accelerator.device, accelerator.mixed_precision, encoder_runs=not run.use_cache
    )
    return Training(
        trainable,
        unwrapped,
        optimizer,
        scheduler,
        first_loader,
        max_train_steps,
        warmup_steps,
        speed,
        averaged,
    )


def start_training(run: Run, training: Training) -> None:
    """Seeds the dropout draws, resumes from the checked checkpoint, numbers the next checkpoint, starts the
    trackers and the progress bar."""
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    args, accelerator, progress = run.args, run.accelerator, run.progress
    # Dropout draws start from the seed whatever was computed before (caching, batch-size probe), so cached and
    # uncached runs draw the same masks; a resumed run then replaces this state by the checkpoint's.
    set_seed(args.seed)
    if run.resume_path:
        resume(run)
    # accelerate numbers checkpoints itself; the next one follows every one there, finished or not
    numbers = [int(name.rsplit("_", 1)[-1]) for name in checkpoint_folders(args.checkpoint_dir)]
    accelerator.project_configuration.iteration = max(numbers) + 1 if numbers else 0
    if args.report_to and args.report_to != "none":
        tracked = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers("globalre", config=tracked)
    batch = (
        f"{args.documents_per_batch} whole document(s)"
        if args.documents_per_batch
        else f"{args.per_device_train_batch_size} pairs"
    )
    logger.info(
        "training: %d epochs, %d pairs per epoch, %d steps (%d warmup), batches of %s x %d processes x %d accumulation",
        args.num_train_epochs,
        len(training.first_loader.dataset),
        training.max_train_steps,
        training.warmup_steps,
        batch,
        accelerator.num_processes,
        args.gradient_accumulation_steps,
    )
    training.bar = tqdm(
        total=training.max_train_steps,
        initial=progress.completed_steps,
        desc="training",
        disable=args.no_progress or not accelerator.is_local_main_process,
    )
    if progress.threshold is not None:  # resumed: decide with the thresholds tuned before the interruption
        config = evaluated_model(training).config
        config.threshold, config.relation_thresholds = progress.threshold, dict(progress.relation_thresholds)


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


def train_epoch(run: Run, training: Training, epoch: int, skip: int) -> dict | None:
    """One epoch of optimizer steps (none when the steps are all done and only the epoch's evaluation is owed),
    skipping the `skip` micro-batches a resumed checkpoint had trained. Returns a result only when
    `--stop_after_steps` ends the run as if killed."""
    args, accelerator, progress = run.args, run.accelerator, run.progress
    steps_left = progress.completed_steps < training.max_train_steps
    training.trainable.train()
    loader = training.first_loader if epoch == 0 else epoch_loader(run, epoch)
    n_batches = len(loader) * accelerator.num_processes  # the epoch's micro-batches over all processes
    if skip:
        loader = accelerator.skip_first_batches(loader, skip)
    progress.epoch = epoch
    step_every = str(args.checkpointing_steps).isdigit() and int(args.checkpointing_steps)
    speed = training.speed
    speed.start(accelerator.device, resumed=skip > 0)
    for batch in rng_neutral_iter(loader) if steps_left else ():
        detection_docs = (
            documents_of_batch(
                len(run.detection.features),
                n_batches,
                args.seed,
                epoch,
                progress.batches_done * accelerator.num_processes + accelerator.process_index,
                args.entity_detection_passes,
            )
            if run.detection
            else []
        )
        loss = training_step(run, training, batch, detection_docs)
        progress.batches_done += 1
        training.running_loss += float(loss.detach())
        training.running_count += 1
        speed.add(
            encoder_tokens(batch) + (run.detection.tokens(detection_docs) if detection_docs else 0),
            steps=int(accelerator.sync_gradients),
        )
        if not accelerator.sync_gradients:
            continue
        progress.completed_steps += 1
        training.bar.update(1)
        log_loss(run, training)
        if step_every and progress.completed_steps % step_every == 0:
            speed.pause(accelerator.device)  # writing a checkpoint is not training
            training.last_checkpoint = checkpoint(run, training)
            speed.resume()
        if args.stop_after_steps and progress.completed_steps >= args.stop_after_steps:
            speed.stop(accelerator.device)
            logger.info("steps of epoch %d: %s", epoch + 1, speed.describe())
            logger.warning("--stop_after_steps %d: exiting as if killed", args.stop_after_steps)
            accelerator.wait_for_everyone()
            return {"stopped_after_steps": progress.completed_steps, "exit_code": 3}
        if progress.completed_steps >= training.max_train_steps:
            break
    speed.stop(accelerator.device)
    return None


def training_step(
    run: Run, training: Training, batch: dict[str, torch.Tensor], detection_docs: list[int]
) -> torch.Tensor:
    """Forward and backward of one micro-batch, with the detection loss of `detection_docs` (training documents
    read as raw text) added; the optimizer steps when accelerate's accumulation says so. Returns the loss."""
    args, accelerator = run.args, run.accelerator
    with accelerator.accumulate(training.trainable):
        try:
            # the detection loss in the same forward: distributed data parallel synchronises what forward computes
            if detection_docs:
                detection = run.detection.model_inputs(training.model, detection_docs, accelerator.device)
                outputs = training.trainable(**batch, entity_detection_inputs=detection)
                loss = outputs.loss + run.detection.weight * outputs.entity_detection_loss
            else:
                outputs = training.trainable(**batch)
                loss = outputs.loss
        except torch.cuda.OutOfMemoryError as error:  # pragma: no cover - GPU only
            raise TrainingError(out_of_memory_message(args)) from error
        if args.debug_nan_at_step is not None and run.progress.completed_steps + 1 == args.debug_nan_at_step:
            loss = loss * float("nan")
        check_loss_finite(run, training, loss)
        if outputs.evidence_loss is not None:  # part of `loss`, logged apart
            training.running_evidence_loss += float(outputs.evidence_loss.detach())
        accelerator.backward(loss)
        if accelerator.sync_gradients and args.max_grad_norm and args.max_grad_norm > 0:
            accelerator.clip_grad_norm_(training.trainable.parameters(), args.max_grad_norm)
        training.optimizer.step()
        training.scheduler.step()
        training.optimizer.zero_grad()
        # a step the fp16 loss scaler skipped left the weights as they were: the average does not count it
        if (
            training.averaged is not None
            and accelerator.sync_gradients
            and not accelerator.optimizer_step_was_skipped
        ):
            training.averaged.update()
    return loss


def log_loss(run: Run, training: Training) -> None:
    """Every --log_every steps (and at the last): the mean loss since the last log, and the learning rate."""
    args, step = run.args, run.progress.completed_steps
    if step % args.log_every == 0 or step == training.max_train_steps:
        mean_loss = training.running_loss / max(training.running_count, 1)
        lr = training.scheduler.get_last_lr()[0]
        logged, evidence = {"train_loss": mean_loss, "lr": lr}, ""
        if args.evidence_loss_weight > 0:
            logged["train_evidence_loss"] = training.running_evidence_loss / max(training.running_count, 1)
            evidence = f" (evidence loss {logged['train_evidence_loss']:.5f})"
        logger.info("step %d: loss %.5f%s, lr %.3g", step, mean_loss, evidence, lr)
        if args.report_to != "none":
            run.accelerator.log(logged, step=step)
        training.running_loss, training.running_evidence_loss, training.running_count = 0.0, 0.0, 0


def end_epoch(run: Run, training: Training, epoch: int) -> None:
    """The end of an epoch: evaluation on dev (thresholds tuned, the best epoch kept), the epoch's record, and a
    checkpoint with `--checkpointing_steps epoch`."""
    progress = run.progress
    progress.epoch, progress.batches_done = epoch + 1, 0
    record: dict[str, Any] = {"epoch": epoch + 1, "step": progress.completed_steps}
    if training.speed.steps:  # an epoch resumed after all its steps only owes its evaluation
        logger.info("epoch %d: %s", epoch + 1, training.speed.describe())
        record["speed"] = training.speed.record()
    if run.dev_split is not None:
        if training.averaged is not None:  # for comparison: thresholds tuned into a copy, no epoch selected
            config = copy.deepcopy(training.model.config)
            record["dev_trained_weights"] = score_dev(
                run, training.model, config, epoch, "(trained weights) "
            )[1]
        record.update(evaluate_epoch(run, evaluated_model(training), epoch))
        if run.detection is not None:
            record["dev_detection"] = evaluate_detection_epoch(run, evaluated_model(training), epoch)
    progress.history.append(record)
    if run.args.checkpointing_steps == "epoch":
        training.last_checkpoint = checkpoint(run, training)


def evaluated_model(training: Training):
    """The weights an epoch's dev evaluation scores and the run keeps: the moving average with --ema_decay (its
    config holds the tuned thresholds then), else the trained model."""
    return training.averaged.module if training.averaged is not None else training.model


def take_weights_and_thresholds(model, source) -> None:
    """`source`'s weights and decision thresholds replace `model`'s (the kept model of a run)."""
    model.load_state_dict(source.state_dict())
    model.config.threshold = source.config.threshold
    model.config.relation_thresholds = dict(source.config.relation_thresholds)


def score_dev(run: Run, model, config, epoch: int, what: str = "") -> tuple[dict, dict[str, Any]]:
    """Dev logits of `model`, decided with `config` after its thresholds are tuned on them (when asked; written
    into `config`): the tuning's record and the official dev scores, logged."""
    logits = logits_of(run, model, "dev")
    record = set_thresholds(config, run.args, torch.cat(logits), run.dev_split)
    predictions = predictions_of(logits, run.dev_split, run.processor, config)
    scores = official_scores(predictions, run.dev_split, run.train_docs, run.label_set)
    logger.info("epoch %d: dev %s%s", epoch + 1, what, score_line(scores))
    return record, scores


def evaluate_epoch(run: Run, model, epoch: int) -> dict[str, Any]:
    """Dev logits, tuned thresholds (written into the model config and `Progress`) and official dev scores of the
    epoch; with `--model_selection best_dev`, the model of a better epoch is saved (`best_model_dir`)."""
    args, accelerator, progress = run.args, run.accelerator, run.progress
    record, scores = score_dev(run, model, model.config, epoch)
    record["dev"] = scores
    progress.threshold = model.config.threshold
    progress.relation_thresholds = dict(model.config.relation_thresholds)
    if args.report_to != "none":
        accelerator.log(
            {"dev_f1": scores["f1"], "dev_ign_f1": scores["ign_f1"]}, step=progress.completed_steps
        )
    # a dev F1 of None (dev documents without gold facts) measures nothing: it never selects an epoch
    if args.model_selection == "best_dev" and scores["f1"] is not None and scores["f1"] > progress.best_f1:
        progress.best_f1, progress.best_epoch = scores["f1"], epoch + 1
        if accelerator.is_main_process:
            model.save_pretrained(best_model_dir(args.checkpoint_dir))
        accelerator.wait_for_everyone()
    return record


def evaluate_detection_epoch(run: Run, model, epoch: int) -> dict[str, float | None]:
    """The detector's mention F1 and entity F1 on the dev documents read as raw text, after an epoch."""
    texts, references = gold_references(run.dev_split.docs)
    scores = detection_scores(
        model, run.processor, texts, references, max_batch_tokens=run.args.max_batch_tokens
    )
    record = {"mention_f1": scores["mention"]["f1"], "entity_f1": scores["entity"]["f1"]}
    logger.info(
        "epoch %d: dev detection mention F1 %s, entity F1 %s (coreference %s)",
        epoch + 1,
        *(f"{100 * value:.2f}" if value is not None else "n/a" for value in record.values()),
        model.config.coreference,
    )
    if run.args.report_to != "none":
        run.accelerator.log(
            {f"dev_{key}": value for key, value in record.items()}, step=run.progress.completed_steps
        )
    return record


def restore_best_epoch(run: Run) -> None:
    """With `--model_selection best_dev`, the weights and thresholds of the best epoch (`from_pretrained` of what
    `evaluate_epoch` saved) replace the last epoch's in the trained model."""
    args, progress, model = run.args, run.progress, run.model
    if args.model_selection == "best_dev" and progress.best_epoch is not None:
        take_weights_and_thresholds(model, type(model).from_pretrained(best_model_dir(args.checkpoint_dir)))
        logger.info("selected epoch %d (best dev F1 %.2f)", progress.best_epoch, 100 * progress.best_f1)
    elif args.model_selection == "best_dev":
        run.warnings.append(
            "--model_selection best_dev: no epoch had a dev F1 (the dev documents hold no gold fact), so the "
            "last epoch is kept"
        )


# ---- NaN, out of memory and checkpoints -----------------------------------------------------------------------


def checkpoint(run: Run, training: Training) -> str:
    """Saves the training state as the next checkpoint, after checking that the weights are finite."""
    if not parameters_finite(training.model):
        fail_nan(run, training, run.progress.completed_steps, "the weights became NaN or infinite")
    run.progress.seconds = time.time() - run.start_time
    return save_checkpoint(run.accelerator, run.progress)


def parameters_finite(model) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters() if p.requires_grad)


def check_loss_finite(run: Run, training: Training, loss: torch.Tensor) -> None:
    """Stops the run when the loss of any process is NaN or infinite (all processes stop at the same step)."""
    accelerator = run.accelerator
    bad = torch.tensor(0.0 if torch.isfinite(loss) else 1.0, device=accelerator.device)
    if accelerator.num_processes > 1:
        bad = accelerator.reduce(bad, "sum")
    if bad.item() > 0:
        fail_nan(run, training, run.progress.completed_steps + 1, "the loss became NaN or infinite")


def fail_nan(run: Run, training: Training, step: int, what: str) -> NoReturn:
    """Raises the `TrainingError` of a run whose loss or weights stopped being finite: the bad state is not saved,
    and the message names the last good checkpoint to resume from."""
    good = training.last_checkpoint or (list_checkpoints(run.args.checkpoint_dir) or [None])[-1]
    raise TrainingError(
        f"{what} at step {step} (epoch {run.progress.epoch + 1}): training stopped and the bad state was not saved. "
        + (
            f"Last good checkpoint: {good} (step {checkpoint_step(good)}; resume with --resume_from_checkpoint "
            f"{good} and a lower --learning_rate or --max_grad_norm)."
            if good
            else "No checkpoint was saved before it; lower --learning_rate and start again."
        )
    )


def out_of_memory_message(args: argparse.Namespace) -> str:
    if args.documents_per_batch:
        return (
            f"the pairs of {args.documents_per_batch} document(s) do not fit in GPU memory in one batch; lower "
            "--documents_per_batch (or use --mixed_precision bf16)"
        )
    return (
        f"a batch of {args.per_device_train_batch_size} pairs of up to {args.max_seq_length} tokens does not fit in "
        "GPU memory; lower --per_device_train_batch_size and raise --gradient_accumulation_steps to keep the "
        "effective batch size (or use --mixed_precision bf16, or a shorter --max_seq_length)"
    )


def check_batch_fits(run: Run, trainable, optimizer) -> None:  # pragma: no cover
    """Runs forward and backward once on the longest sequences, so a batch size that does not fit fails now, not
    hours into the run."""
    args, accelerator = run.args, run.accelerator
    if args.documents_per_batch:  # the epoch's batch with the most pairs
        examples = epoch_examples(run.train_split, args.negative_ratio, args.seed, 0, by_document=True)
        largest = max(document_batches(run.train_split, examples, args.documents_per_batch), key=len)
        rows = [examples[position] for position in largest]
    else:
        rows = np.argsort(-run.train_split.sequences.lengths, kind="stable")[
            : args.per_device_train_batch_size
        ].tolist()
    batch = {k: v.to(accelerator.device) for k, v in collate_pairs(run, rows).items()}
    try:
        with RngNeutral():
            accelerator.backward(trainable(**batch).loss)
    except torch.cuda.OutOfMemoryError as error:
        raise TrainingError(out_of_memory_message(args)) from error
    finally:
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()


# ==============================================================================================================
# Evaluate, record, write the repository
# ==============================================================================================================


def evaluate_splits(run: Run) -> dict[str, dict]:
    """The selected model on dev and test with the official metric; predictions written to OUTPUT_DIR/eval."""
    evaluation: dict[str, dict] = {}
    for name, split in (("dev", run.dev_split), ("test", run.test_split)):
        if split is None:
            continue
        logits = logits_of(run, run.model, name)
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


def evaluate_end_to_end(run: Run) -> None:
    """With --entity_detection: both coreference modes measured on dev (entity F1) and the better kept in the
    config; then dev and test read as raw text through the detector, relations predicted between the detected
    entities and scored end to end (`end_to_end_metric`); graphs written to OUTPUT_DIR/eval."""
    if run.detection is None:
        return
    args, model = run.args, run.model
    run.end_to_end = {"entity_types": list(model.config.entity_types)}
    if run.dev_split is not None:
        texts, references = gold_references(run.dev_split.docs)
        run.end_to_end["coreference"] = choose_coreference(
            model, run.processor, texts, references, args.max_batch_tokens
        )
    else:
        run.warnings.append(
            f"--entity_detection without --dev_file: the coreference mode was not measured; the model keeps "
            f"'{model.config.coreference}'"
        )
    for name, split in (("dev", run.dev_split), ("test", run.test_split)):
        if split is None:
            continue
        graphs, scores = end_to_end(
            model, run.processor, split.docs, args.max_batch_tokens, not args.no_progress
        )
        run.end_to_end[name] = scores
        logger.info("%s end to end (raw text): %s", name, summary_line(scores))
        if scores["documents_without_relations"]:
            run.warnings.append(
                f"{name}: the detected entities of {len(scores['documents_without_relations'])} documents could not "
                f"be read as a text-form document, so no relation was predicted in them (first: "
                f"{scores['documents_without_relations'][0]})"
            )
        if run.accelerator.is_main_process:
            os.makedirs(os.path.join(args.output_dir, "eval"), exist_ok=True)
            with open(
                os.path.join(args.output_dir, "eval", f"{name}_graphs.jsonl"), "w", encoding="utf-8"
            ) as handle:
                handle.writelines(json.dumps(graph, ensure_ascii=False) + "\n" for graph in graphs)


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
        end_to_end=run.end_to_end,
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
        versions=run.versions,
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
            for scratch in (checkpoint_root(args.checkpoint_dir), best_model_dir(args.checkpoint_dir)):
                shutil.rmtree(scratch, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.remove(os.path.join(args.checkpoint_dir, CHECKPOINT_OWNER))
                os.rmdir(args.checkpoint_dir)  # kept when it holds anything else (tracker logs)
        logger.info("model repository written to %s", args.output_dir)
    run.accelerator.wait_for_everyone()
    if args.report_to and args.report_to != "none":
        run.accelerator.end_training()


def main(argv: Sequence[str] | None = None) -> dict:
    """The whole run: what `python train.py` and `accelerate launch train.py` do. Returns `results.json`'s
    content (with `hub_url` when pushed), or the early result of `--stop_after_steps`. Raises `TrainingError`
    for a run that cannot go on (bad inputs included), and `RunInterrupted` on Ctrl-C (or SIGTERM under `cli`)."""
    args = resolve_args(parse_args(argv))
    with interruption_says_how_to_resume(args):
        run = prepare(args)  # accelerator, label set, documents and candidate pairs, model and processor
        cache_pair_vectors(run)  # a frozen encoder's pair vectors, once
        stopped = fit(run)  # epochs: train, evaluate on dev, keep the best, checkpoint
        if stopped is not None:
            return stopped
        evaluation = evaluate_splits(run)  # the selected model on dev and test, official metric
        evaluate_end_to_end(run)  # --entity_detection: coreference mode chosen on dev; raw text in, graph out
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


# ==============================================================================================================
# The command line: errors as one line, interruptions with the command that resumes
# ==============================================================================================================


@contextlib.contextmanager
def interruption_says_how_to_resume(args: argparse.Namespace):
    """Turns a `KeyboardInterrupt` into `RunInterrupted`, whose message names the newest finished checkpoint
    and the command that resumes from it (or says that none was saved yet, and the command that starts again)."""
    try:
        yield
    except RunInterrupted:
        raise
    except KeyboardInterrupt as interruption:
        raise RunInterrupted(interrupted_message(args)) from interruption


def interrupted_message(args: argparse.Namespace) -> str:
    finished = list_checkpoints(args.checkpoint_dir)
    if finished:
        return (
            f"interrupted; the last checkpoint is {finished[-1]} (step {checkpoint_step(finished[-1])}). "
            f"Resume with: {resume_command(args, resume=True)}"
        )
    when = {"epoch": "at the end of each epoch", "no": "never (--checkpointing_steps no)"}.get(
        str(args.checkpointing_steps), f"every {args.checkpointing_steps} optimizer steps"
    )
    return (
        f"interrupted before any checkpoint was saved in {checkpoint_root(args.checkpoint_dir)} (checkpoints are "
        f"saved {when}). Start again with: {resume_command(args, resume=False)}"
    )


def resume_command(args: argparse.Namespace, resume: bool) -> str:
    """The command line of this run, with `--resume_from_checkpoint latest` (or without any
    --resume_from_checkpoint when `resume` is false); a Hub token given on the command line is hidden."""
    argv, skip_next = [], False
    for item in args.argv:
        if skip_next:
            skip_next = False
        elif item == "--resume_from_checkpoint":
            skip_next = True
        elif not item.startswith("--resume_from_checkpoint="):
            argv.append(item)
    if resume:
        argv += ["--resume_from_checkpoint", "latest"]
    hidden = [
        "HUB_TOKEN" if previous == "--hub_token" else item for previous, item in zip([None, *argv], argv)
    ]
    hidden = ["--hub_token=HUB_TOKEN" if item.startswith("--hub_token=") else item for item in hidden]
    script = sys.argv[0] if os.path.basename(sys.argv[0]) == "train.py" else os.path.relpath(__file__)
    return f"{launcher()} {shlex.quote(script)} {shlex.join(hidden)}"


def cli(argv: Sequence[str] | None = None) -> NoReturn:
    """`python train.py ...`: runs `main` and exits with its status. A run that cannot go on (`TrainingError`)
    ends with one `train.py: error: ...` line and status 2, as argparse's errors do; Ctrl-C and SIGTERM end with
    one line saying how to resume (`RunInterrupted`, printed by the main process only) and status 130."""

    def terminated(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        outcome = main(argv)
    except TrainingError as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        sys.exit(2)
    except RunInterrupted as interruption:
        if os.environ.get("RANK", "0") == "0":
            print(f"train.py: {interruption}", file=sys.stderr)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.exit(outcome.get("exit_code", 0) if isinstance(outcome, dict) else 0)


if __name__ == "__main__":
    cli()
