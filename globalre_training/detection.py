# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""Entity detection in a training run (`--entity_detection`): the mention types the detector learns, the training
documents as raw text with their gold entities, which documents each micro-batch adds to the relation loss, the
detection figures on dev, the choice of the coreference mode, and the end-to-end evaluation (raw text in, graph
out, scored by `end_to_end_metric`) that `train.py` and `evaluate_model.py` share.

The detector itself (`EntityDetectionHead`, `entities_globalre`) belongs to the model files; this module only
feeds it documents and measures it.
"""

from __future__ import annotations

import inspect
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from entities_globalre import COREFERENCE_MODES
from globalre_training import TrainingError

logger = logging.getLogger("train")


def mention_types_of(docs: Sequence[dict]) -> list[str]:
    """The mention types of the documents' entities, sorted: the detector's `entity_types`. Raises a
    `TrainingError` naming the first document with an untyped mention, since a detector cannot learn an empty
    type."""
    types = set()
    for index, doc in enumerate(docs):
        for e, entity in enumerate(doc["vertexSet"]):
            for m, mention in enumerate(entity):
                mention_type = mention.get("type")
                if not isinstance(mention_type, str) or not mention_type:
                    raise TrainingError(
                        f"--entity_detection: training document {index} (title {doc.get('title')!r}), entity {e} "
                        f"mention {m} has no 'type'; the detector learns mention types, so every mention needs one "
                        "(or leave --entity_detection out)"
                    )
                types.add(mention_type)
    return sorted(types)


def gold_references(docs: Sequence[dict]) -> tuple[list[str], list[dict]]:
    """The documents as raw text (`documents_globalre.docred_to_text`) and their gold entities and labels in the
    end-to-end metric's reference form (`end_to_end_metric` module docstring)."""
    from documents_globalre import docred_to_text

    texts, references = [], []
    for index, doc in enumerate(docs):
        text, entities = docred_to_text(doc, index)
        labels = doc.get("labels")
        texts.append(text)
        references.append(
            {
                "title": doc.get("title"),
                "entities": entities,
                "labels": None
                if labels is None
                else [{"h": label["h"], "t": label["t"], "r": label["r"]} for label in labels],
            }
        )
    return texts, references


def documents_of_batch(
    n_documents: int, n_batches: int, seed: int, epoch: int, batch_index: int, passes: int = 1
) -> list[int]:
    """The training documents whose detection loss joins micro-batch `batch_index` (counted over all processes)
    of `epoch`: `passes` shuffles of the documents (seeded with seed, epoch and pass) one after another, cut into
    `n_batches` consecutive runs of equal length (to one document), so each epoch is `passes` detection passes
    over the training documents. A function of its arguments only, so a resumed run gives every batch the
    documents the uninterrupted run gave it."""
    order = []
    for number in range(passes):
        shuffled = list(range(n_documents))
        # the first pass keeps the seed string of single-pass runs, so their assignment is unchanged
        random.Random(f"detection:{seed}:{epoch}" + (f":{number}" if number else "")).shuffle(shuffled)
        order += shuffled
    total = len(order)
    return order[batch_index * total // n_batches : (batch_index + 1) * total // n_batches]


@dataclass
class DetectionData:
    """The training documents' detection features (`entities_globalre.detection_features`: windows, tag labels,
    mention tokens, coreference pairs), computed once, and the keyword names `model.entity_detection` takes."""

    features: list[Any]
    weight: float
    model_keys: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(cls, docs: Sequence[dict], processor, config, weight: float) -> DetectionData:
        from entities_globalre import detection_features

        texts, references = gold_references(docs)
        features = [
            detection_features(
                processor.tokenizer,
                text,
                config.entity_types,
                config.max_seq_length,
                entities=reference["entities"],
            )
            for text, reference in zip(texts, references, strict=True)
        ]
        return cls(features=features, weight=weight)

    def dropped(self) -> dict[str, int]:
        """Gold mentions of the training documents the detector does not train on, by reason (summed
        `DetectionFeatures.dropped`: nested or overlapping a longer mention, across a sentence end of the text
        form, a repeated span, no tokens); reasons with none left out."""
        totals: dict[str, int] = {}
        for features in self.features:
            for reason, count in features.dropped.items():
                totals[reason] = totals.get(reason, 0) + count
        return {reason: count for reason, count in totals.items() if count}

    def tokens(self, document_indices: list[int]) -> int:
        """The tokens the encoder runs for these training documents' detection windows."""
        return sum(len(ids) for index in document_indices for ids in self.features[index].input_ids)

    def model_inputs(
        self, model, document_indices: list[int], device: torch.device
    ) -> dict[str, torch.Tensor]:
        """The keyword inputs of `model.entity_detection` for these training documents, with their labels (the
        model's `forward` takes them as `entity_detection_inputs`); `weight` scales the loss it returns."""
        from entities_globalre import collate_detection

        if not self.model_keys:
            self.model_keys = frozenset(inspect.signature(model.entity_detection).parameters)
        batch = collate_detection([self.features[i] for i in document_indices])
        return {key: value.to(device) for key, value in batch.items() if key in self.model_keys}


def graphs_of(detected: list[dict], triples: list[dict]) -> dict:
    """A predicted graph for the metric: the detected entities (text form with spans) and the triples."""
    return {
        "entities": [{"name": e["name"], "type": e["type"], "spans": e["spans"]} for e in detected],
        "relations": [{"head": t["head"], "tail": t["tail"], "relation": t["relation"]} for t in triples],
    }


def detect(model, processor, texts: list[str], coreference: str | None, max_batch_tokens: int | None) -> list:
    """`entities_globalre.detect_entities` (eval mode and no gradients inside; the model's mode is restored)."""
    from entities_globalre import detect_entities

    return detect_entities(
        model, processor, texts, coreference=coreference, max_batch_tokens=max_batch_tokens
    )


def detection_scores(
    model, processor, texts: list[str], references: list[dict], coreference: str | None = None,
    max_batch_tokens: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Mention and entity figures of the detector alone (no relations) on gold documents."""
    from end_to_end_metric import score_end_to_end

    detected = detect(model, processor, texts, coreference, max_batch_tokens)
    unlabelled = [{**reference, "labels": None} for reference in references]
    scores = score_end_to_end([graphs_of(entities, []) for entities in detected], unlabelled)
    return {figure: scores[figure] for figure in ("mention", "mention_span", "entity", "entity_untyped")}


def choose_coreference(
    model, processor, texts: list[str], references: list[dict], max_batch_tokens: int | None = None
) -> dict[str, Any]:
    """Entity F1 of each coreference mode on these (dev) documents; the better one (the name rule on a tie, as the
    simpler) goes into `model.config.coreference`. Returns `{"names": f1, "learned": f1, "chosen": mode}`."""
    figures = {
        mode: detection_scores(model, processor, texts, references, mode, max_batch_tokens)["entity"]["f1"]
        for mode in COREFERENCE_MODES
    }
    chosen = max(COREFERENCE_MODES, key=lambda mode: (figures[mode] or 0.0, mode == "names"))
    model.config.coreference = chosen
    logger.info(
        "coreference on dev: entity F1 %s with the name rule, %s learned; %s kept",
        *(f"{100 * figures[mode]:.2f}" if figures[mode] is not None else "n/a" for mode in COREFERENCE_MODES),
        chosen,
    )
    return {**figures, "chosen": chosen}


def end_to_end(
    model, processor, docs: Sequence[dict], max_batch_tokens: int | None = None, progress: bool = False
) -> tuple[list[dict], dict[str, Any]]:
    """Raw text in, graph out, scored: each document's text (`docred_to_text`) through the model's detector, its
    relations predicted between the detected entities, and the graphs scored against the gold entities and labels
    (`end_to_end_metric.score_end_to_end`). Returns the graphs (with each document's `title`) and the scores;
    `scores["documents_without_relations"]` names the documents whose detected entities could not be read as a
    text-form document (their graphs keep the entities, with no relations)."""
    from documents_globalre import DocumentError, as_docred
    from end_to_end_metric import score_end_to_end
    from inference_globalre import predict_documents

    texts, references = gold_references(docs)
    detected = detect(model, processor, texts, None, max_batch_tokens)
    # each text-form document read first, so that one the detector got wrong costs its relations only
    readable, failed = {}, []
    for index, (text, entities) in enumerate(zip(texts, detected, strict=True)):
        if len(entities) < 2:
            continue
        try:
            readable[index] = as_docred(
                {"title": docs[index].get("title"), "text": text, "entities": entities}, index
            )
        except DocumentError as error:
            failed.append(str(error))
    was_training = model.training
    model.eval()
    try:
        triples = predict_documents(
            model, processor, list(readable.values()), max_batch_tokens=max_batch_tokens, progress=progress
        )
    finally:
        model.train(was_training)
    by_document = dict(zip(readable, triples, strict=True))
    graphs = [
        {"title": doc.get("title"), **graphs_of(entities, by_document.get(index, []))}
        for index, (doc, entities) in enumerate(zip(docs, detected, strict=True))
    ]
    scores = score_end_to_end(graphs, references)
    if failed:
        logger.warning(
            "%d documents' detected entities could not be scored for relations: %s", len(failed), failed[:3]
        )
    scores["documents_without_relations"] = failed
    return graphs, scores
