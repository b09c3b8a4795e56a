# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""Decision thresholds tuned on dev logits for the `threshold` decision rule: one global threshold that maximises
micro F1 of (pair, relation) decisions, optionally refined per relation.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from globalre_training.data import Split


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
