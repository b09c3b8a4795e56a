# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""Scoring the documents of a split across processes (sharded, gathered in document order, without touching the
training RNG), the official DocRED scores of its predictions, and what makes predictions say nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from globalre_training.data import Split, truncation_notes_muted


class RngNeutral:
    """Creating a DataLoader iterator draws from torch's global RNG; this keeps dropout masks independent of how
    many loaders were iterated, so a resumed run draws exactly the masks of an uninterrupted one."""

    def __enter__(self):
        self.state = torch.get_rng_state()

    def __exit__(self, *exc):
        torch.set_rng_state(self.state)


def rng_neutral_iter(loader):
    """Iterates a (sharded) loader without touching torch's global RNG. Accelerate's loaders are generators that
    create the inner iterator (which draws a seed) on the first `next`, so that first step is guarded too."""
    with RngNeutral():
        iterator = iter(loader)
        try:
            first = next(iterator)
        except StopIteration:
            return
    yield first
    yield from iterator


def shard_loader(accelerator, loader: DataLoader, put_on_device: bool, sharded: bool = False):
    """Shards a loader across processes as `accelerator.prepare` does, without registering it for checkpointing:
    the order of every epoch is rebuilt from (seed, epoch), so no sampler state needs saving. `sharded`: the
    loader already holds only this process's batches (`data.shard_batches`); it is only put on the device."""
    from accelerate.data_loader import prepare_data_loader

    return prepare_data_loader(
        loader,
        device=accelerator.device,
        num_processes=1 if sharded else accelerator.num_processes,
        process_index=0 if sharded else accelerator.process_index,
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
    with RngNeutral():
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
    from inference_globalre import score_sequences

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


def split_logits(
    accelerator, split: Split, processor, model, max_batch_tokens: int, docs_per_step: int, desc: str | None
) -> tuple[list[torch.Tensor], list[int]]:
    """The logits of every candidate pair of a split, one `(pairs, num_labels)` tensor per document, with the
    documents sharded across processes (`map_documents`); and how many documents each process scored."""
    return map_documents(
        accelerator,
        len(split.docs),
        lambda docs: split_tensors(split, processor, model, docs, "logits", max_batch_tokens),
        docs_per_step,
        desc=desc,
    )
