# Copyright 2025 The GlobalRE Authors.
#
# Licensed under the MIT License.
"""Evaluate a saved GlobalRE model, or a predictions file, with the official DocRED / Re-DocRED metric.

Run a model over a dataset (batched, with a progress bar, on GPU when present)::

    python evaluate_model.py --model DIR --data ../shared/data/redocred/test_revised.json \\
        --train_file train_revised.json --output_dir OUT

Score an existing predictions file in the official submission format (a JSON list of
`{"title", "h_idx", "t_idx", "r"}`)::

    python evaluate_model.py --predictions result.json --data ../shared/data/redocred/test_revised.json \\
        --train_file train_revised.json --output_dir OUT

End to end, from raw text (a model trained with `train.py --entity_detection`)::

    python evaluate_model.py --model DIR --data ../shared/data/redocred/test_revised.json --end_to_end

Each gold document is read as plain text (`documents_globalre.docred_to_text`: its words joined by spaces), the
model's own detector finds its entities (`entities_globalre.detect_entities`), relations are predicted between
them, and the graphs are scored against the gold entities and facts (`end_to_end_metric`): mention, entity and
relation (strict and relaxed) precision, recall and F1, and where the missed facts were lost. `report.json` then
holds them under `end_to_end`, beside the official scores of the same model given the gold entities; the graphs go
to `OUT/graphs.jsonl`.

Either way `OUT/report.json` holds `precision`, `recall`, `f1`, `ign_f1` (fractions in [0, 1], or null where
they measure nothing: see `docred_metric`), the breakdowns (intra / inter, frequent / long-tail, per relation),
`label_coverage` (how much of the data's relations the model, or the label set, knows), `evidence` (Evi P, R
and F1 in sentences, when the predictions carry evidence: a model trained with `--evidence_loss_weight`),
`warnings` and the command's arguments; with `--model`, `OUT/predictions.json` holds the predictions in
submission format with a `score` key (and `evidence`, the predicted evidence sentences, from such a model). A
readable table is printed, "n/a" for a figure that measures nothing. `--diagnostics` adds two clearly labelled,
non-official protocols (see `docred_metric.DIAGNOSTICS_NOTE`).

A gold file without labels (no document has a `labels` key, e.g. DocRED's test split) is not scored: the
predictions are still written and the report says `gold_labelled: false` with every score null. A file where
only some documents have labels is refused, naming them. A training file that shares documents with `--data`
gives Ign F1 null (n/a) with a warning: its "facts seen in training" would be the gold facts themselves.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from docred_data import (
    NO_RELATION_ALIASES,
    LabelSet,
    load_documents,
    orient_pairs,
    parse_pair_types,
    read_documents,
    resolve_label_set,
)
from docred_metric import (
    DIAGNOSTICS_NOTE,
    REDOCRED_FREQUENT_RELATIONS,
    gold_is_labelled,
    load_gold_documents,
    name_some,
    score_docred,
    to_submission,
)

logger = logging.getLogger("evaluate_model")

DEFAULT_OUTPUT_DIR = os.path.join("outputs", "evaluation")
TABLE_RELATIONS = 15


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="directory of a saved GlobalRE model and processor (or a Hub name)")
    source.add_argument("--predictions", help="predictions file in the official submission format")
    parser.add_argument("--data", required=True, help="gold DocRED-format file (JSON list or JSON lines)")
    parser.add_argument(
        "--train_file",
        help="training file for Ign F1 and the frequent / long-tail split (without it: no Ign F1)",
    )
    parser.add_argument("--output_dir", default=DEFAULT_OUTPUT_DIR, help=f"default: {DEFAULT_OUTPUT_DIR}")
    parser.add_argument(
        "--label_dir",
        help="folder with rel2id.json / rel_info.json (relation names); default: the --data folder when it has them",
    )
    parser.add_argument("--batch_size", type=int, help="at most this many pairs per forward pass")
    parser.add_argument(
        "--max_batch_tokens",
        type=int,
        help="padded tokens per encoder call (default: 4096 on CPU, 16384 on GPU)",
    )
    parser.add_argument("--device", help="e.g. cuda, cuda:1, cpu (default: CUDA when available)")
    parser.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the encoder under bf16 autocast (default: on CUDA, not on CPU); --no-bf16 gives fp32 logits on a "
        "GPU, --bf16 speeds up CPUs with AVX-512 BF16 or AMX; the report records what ran (inference.precision)",
    )
    parser.add_argument(
        "--max_docs", type=int, help="only the first N gold documents; predictions for others are set aside"
    )
    parser.add_argument(
        "--skip_docs",
        type=int,
        default=0,
        help="skip the first K gold documents (with --max_docs N: documents K to K+N-1; --skip_docs 400 "
        "--max_docs 100 on Re-DocRED's dev_revised.json is the dev split of redocred-dev400-val100-test)",
    )
    parser.add_argument(
        "--threshold", type=float, help="decision threshold override (default: the model's rule)"
    )
    parser.add_argument(
        "--evidence_threshold",
        type=float,
        help="with a model that predicts evidence (trained with --evidence_loss_weight): the share of a pair's "
        "localized-context weight above which a sentence is evidence (default: the model's, "
        "config.evidence_threshold)",
    )
    parser.add_argument(
        "--pair_types",
        nargs="+",
        metavar="HEAD:TAIL",
        help="entity-type pairs of the candidate pairs (e.g. CHEM:DISE for CDR): labels of undirected relations "
        "(--undirected_relations) stored the other way round are turned to this direction, and --diagnostics "
        "counts only these pairs",
    )
    parser.add_argument(
        "--undirected_relations",
        nargs="*",
        metavar="RELATION",
        help="relations without direction, which --pair_types turns round in the gold (and training) labels; "
        "labels of other relations stored against the candidate direction are never turned: they stay outside "
        "the candidate pairs, counted as missed, and are reported [default: CID when the labels' only relation "
        "is CID (CDR's label set), else none; give the flag alone for none]",
    )
    parser.add_argument(
        "--frequent_relations",
        nargs="+",
        metavar="RELATION",
        help="the frequent-relation group (default: top 10 of --train_file); 'redocred' = Re-DocRED's list",
    )
    parser.add_argument("--diagnostics", action="store_true", help="also report non-official diagnostics")
    parser.add_argument(
        "--end_to_end",
        action="store_true",
        help="with --model: also read each document as plain text, find its entities with the model's detector "
        "and score mentions, entities and relations end to end (the model needs train.py --entity_detection)",
    )
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.skip_docs < 0:
        parser.error(f"--skip_docs must be 0 or more; got {args.skip_docs}")
    if args.evidence_threshold is not None and not args.model:
        parser.error("--evidence_threshold needs --model: the evidence is predicted by the model")
    if args.evidence_threshold is not None and not 0 < args.evidence_threshold <= 1:
        parser.error(
            f"--evidence_threshold must lie in (0, 1] (a share of weight); got {args.evidence_threshold}"
        )
    if args.end_to_end and not args.model:
        parser.error("--end_to_end needs --model: the entities are found by the model's detector")
    if args.model and args.device is not None:
        # before the model loads: torch's own error for a CUDA device without CUDA is a traceback from model.to
        from inference_globalre import check_device

        try:
            check_device(args.device)
        except ValueError as error:
            parser.exit(2, f"evaluate_model.py: error: --device: {error}\n")
    return args


def label_set_from_model_config(config: Any) -> LabelSet:
    """A label set from a model's `id2label` (and `relation_names`, when the config has them)."""
    labels = [config.id2label[index] for index in sorted(config.id2label)]
    no_relation = next((label for label in labels if label in NO_RELATION_ALIASES), None)
    names = dict(getattr(config, "relation_names", None) or {})
    return LabelSet(labels=labels, names=names, no_relation=no_relation)


def run_model(
    args: argparse.Namespace, gold_docs: list[dict], model, processor
) -> tuple[list[dict], dict, LabelSet]:
    """Predict with the loaded model; returns the submission, inference statistics and the model's label set."""
    from inference_globalre import encoder_precision, predict_documents

    n_pairs = sum(len(processor.candidate_pairs(doc)) for doc in gold_docs)
    start = time.perf_counter()
    triples = predict_documents(
        model,
        processor,
        gold_docs,
        max_batch_tokens=args.max_batch_tokens,
        max_batch_pairs=args.batch_size,
        threshold=args.threshold,
        evidence_threshold=args.evidence_threshold,
        progress=not args.no_progress,
        bf16=args.bf16,
    )
    seconds = time.perf_counter() - start
    inference = {
        "device": str(next(model.parameters()).device),
        "precision": encoder_precision(model, args.bf16),
        "n_documents": len(gold_docs),
        "n_candidate_pairs": n_pairs,
        "seconds": seconds,
        "pairs_per_second": n_pairs / seconds if seconds > 0 else None,
    }
    return to_submission(gold_docs, triples), inference, label_set_from_model_config(model.config)


def run_end_to_end(args: argparse.Namespace, gold_docs: list[dict], model, processor) -> dict:
    """The gold documents as plain text through the model's detector and relation head, scored end to end
    (`globalre_training.detection.end_to_end`); the graphs are written to OUT/graphs.jsonl. A model without a
    detector is refused by `evaluate` before anything runs."""
    from globalre_training.detection import end_to_end

    start = time.perf_counter()
    graphs, scores = end_to_end(model, processor, gold_docs, args.max_batch_tokens, not args.no_progress)
    scores["seconds"] = time.perf_counter() - start
    scores["coreference"] = model.config.coreference
    path = os.path.join(args.output_dir, "graphs.jsonl")
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(graph, ensure_ascii=False) + "\n" for graph in graphs)
    scores["graphs_file"] = path
    return scores


def read_predictions(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        try:
            predictions = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from error
    if not isinstance(predictions, list):
        raise ValueError(f"{path}: expected a JSON list of predictions, found {type(predictions).__name__}")
    return predictions


def label_coverage(
    label_set: LabelSet, gold_docs: list[dict], predictions: list[dict], against: str, labelled: bool
) -> tuple[dict, list[str]]:
    """How much of the data a label set covers, and the warnings to give. The report's `label_coverage`:

    - `n_gold_relations` / `n_gold_relations_known`: the relations of the gold facts, and those in the label set;
      `n_gold_facts` / `n_gold_facts_known`: the unique gold facts, and those whose relation is in the label set
      (a model can never predict the others: they count as missed); `gold_relations_unknown`: relation ->
      number of gold facts. All `None` for unlabelled gold.
    - `n_pred_relation_unknown` and `pred_relations_unknown` (relation -> predictions): unique predictions
      whose relation is outside the label set.

    `against` names the label set in the report and the warnings (e.g. "model").
    """
    no_relation = set(NO_RELATION_ALIASES)
    gold_facts = {
        (doc["title"], label["h"], label["t"], label["r"])
        for doc in gold_docs
        for label in doc.get("labels") or []
        if label["r"] not in no_relation and not label_set.is_no_relation(label["r"])
    }
    gold_counts = Counter(fact[3] for fact in gold_facts)
    unknown_gold = {r: n for r, n in gold_counts.most_common() if r not in label_set}
    predicted = {
        (p["title"], p["h_idx"], p["t_idx"], p["r"])
        for p in predictions
        if p["r"] not in no_relation and not label_set.is_no_relation(p["r"])
    }
    unknown_pred = dict(Counter(fact[3] for fact in predicted if fact[3] not in label_set).most_common())
    coverage: dict[str, Any] = {
        "label_set": against,
        "n_relations_known": len(label_set.relations),
        "n_gold_relations": len(gold_counts) if labelled else None,
        "n_gold_relations_known": len(gold_counts) - len(unknown_gold) if labelled else None,
        "n_gold_facts": len(gold_facts) if labelled else None,
        "n_gold_facts_known": len(gold_facts) - sum(unknown_gold.values()) if labelled else None,
        "gold_relations_unknown": unknown_gold if labelled else None,
        "n_pred_relation_unknown": sum(unknown_pred.values()),
        "pred_relations_unknown": unknown_pred,
    }
    warnings = []
    if unknown_gold:
        warnings.append(
            f"the {against} knows {coverage['n_gold_relations_known']} of the {len(gold_counts)} relations of the "
            f"gold labels ({coverage['n_gold_facts_known']} of {len(gold_facts)} gold facts): the "
            f"{sum(unknown_gold.values())} facts of {_name_relations(unknown_gold)} can never be predicted and "
            "count as missed"
        )
    if unknown_pred:
        warnings.append(
            f"{coverage['n_pred_relation_unknown']} predictions have relations outside the {against} "
            f"({_name_relations(unknown_pred)}): a mismatched label set or predictions file?"
        )
    return coverage, warnings


def _name_relations(counts: dict[str, int]) -> str:
    return name_some([f"{relation} ({count})" for relation, count in counts.items()])


def restrict_to_titles(
    predictions: list[dict], loaded: set[str], in_file: set[str]
) -> tuple[list[dict], int]:
    """With --max_docs or --skip_docs, predictions for documents of the file that were not loaded are set aside
    (and counted), not scored as wrong. A prediction whose title is in no document of the file stays: the scorer
    counts it as matching no document, with a warning."""

    def set_aside(prediction: Any) -> bool:
        title = prediction.get("title") if isinstance(prediction, dict) else None
        return isinstance(title, str) and title in in_file and title not in loaded

    kept = [prediction for prediction in predictions if not set_aside(prediction)]
    return kept, len(predictions) - len(kept)


def document_titles(path: str) -> set[str]:
    """The titles of every document of a gold file or Hub source (before --max_docs)."""
    docs = read_documents(path) if os.path.isfile(path) else load_documents(path)
    return {doc.get("title") for doc in docs if isinstance(doc, dict) and isinstance(doc.get("title"), str)}


def evaluate(args: argparse.Namespace, command: Sequence[str] | None = None) -> dict:
    """Run the evaluation described by parsed arguments; write the output files and return the report."""
    # relation names from rel2id.json / rel_info.json beside the data (or --label_dir), else the model's
    label_set = resolve_label_set(args.label_dir, args.data)
    pair_types = parse_pair_types(args.pair_types)
    # documents without labels keep no labels key, so that an unlabelled file is not scored as all-negative
    limit = None if args.max_docs is None else args.skip_docs + args.max_docs
    gold_docs = load_gold_documents(args.data, max_docs=limit)[args.skip_docs :]
    if not gold_docs:
        raise SystemExit(
            f"evaluate_model.py: error: --skip_docs {args.skip_docs}: {args.data} has no document after the first "
            f"{args.skip_docs}"
        )
    # before the model runs: a file with some documents unlabelled is refused, naming them
    labelled = gold_is_labelled(gold_docs)
    if not labelled:
        logger.warning(
            "%s: no document has labels: the predictions are written but nothing is scored (n/a)", args.data
        )
    train_docs = load_documents(args.train_file) if args.train_file else None
    orient_warnings: list[str] = []
    if pair_types:
        # labels of undirected relations stored against the candidate direction would be unreachable for any model
        if labelled:
            gold_docs, orient_warnings = orient_pairs(
                gold_docs, pair_types, source=args.data, undirected_relations=args.undirected_relations
            )
        if train_docs:
            train_docs, _ = orient_pairs(
                train_docs, pair_types, source=args.train_file, undirected_relations=args.undirected_relations
            )
    if train_docs is None:
        logger.warning(
            "no --train_file: Ign F1 is not computed and the frequent relations come from the gold labels"
        )
    os.makedirs(args.output_dir, exist_ok=True)

    report: dict[str, Any] = {}
    if args.model:
        from inference_globalre import load_globalre

        model, processor = load_globalre(args.model, device=args.device)
        if args.evidence_threshold is not None and not model.config.predicts_evidence:
            raise SystemExit(
                f"evaluate_model.py: error: --evidence_threshold: the model in {args.model} does not predict "
                "evidence (it was trained without --evidence_loss_weight); leave the flag out"
            )
        if args.end_to_end and not getattr(model.config, "entity_types", None):
            raise SystemExit(
                f"evaluate_model.py: error: --end_to_end: the model in {args.model} has no entity detector "
                "(config.entity_types is empty); train one with train.py --entity_detection, or leave --end_to_end "
                "out"
            )
        predictions, report["inference"], model_label_set = run_model(args, gold_docs, model, processor)
        if args.end_to_end:
            report["end_to_end"] = run_end_to_end(args, gold_docs, model, processor)
        # what the model can predict, not the names' label set: gold relations outside it are always missed
        known, against = model_label_set, "model"
        label_set = label_set or model_label_set
        predictions_path = os.path.join(args.output_dir, "predictions.json")
        with open(predictions_path, "w", encoding="utf-8") as handle:
            json.dump(predictions, handle)
        report["predictions_file"] = predictions_path
    else:
        predictions = read_predictions(args.predictions)
        report["predictions_file"] = args.predictions
        if args.max_docs is not None or args.skip_docs:
            predictions, report["n_pred_outside_max_docs"] = restrict_to_titles(
                predictions, {doc["title"] for doc in gold_docs}, document_titles(args.data)
            )
        known = label_set
        against = "label set of --label_dir" if args.label_dir else "label set beside --data (rel2id.json)"

    candidate_pairs = None
    if pair_types:
        from processing_globalre import ordered_pairs

        def candidate_pairs(doc: dict) -> list[tuple[int, int]]:
            return ordered_pairs(doc["vertexSet"], pair_types)

    frequent = args.frequent_relations
    if frequent == ["redocred"]:
        frequent = list(REDOCRED_FREQUENT_RELATIONS)
    scores = score_docred(
        predictions,
        gold_docs,
        train_docs,
        label_set=label_set,
        diagnostics=args.diagnostics,
        candidate_pairs=candidate_pairs,
        frequent=frequent,
    )
    # after scoring, which has checked that every prediction has a relation
    report["label_coverage"], coverage_warnings = (
        label_coverage(known, gold_docs, predictions, against, labelled) if known is not None else (None, [])
    )
    for warning in coverage_warnings:
        logger.warning("%s", warning)
    report = {**scores, **report}
    report["warnings"] = scores["warnings"] + coverage_warnings + orient_warnings
    report["n_documents"] = len(gold_docs)
    report["args"] = vars(args)
    report["command"] = (
        list(command) if command is not None else [os.path.basename(sys.argv[0]), *sys.argv[1:]]
    )
    with open(os.path.join(args.output_dir, "report.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    return report


def _percent(value: float | None) -> str:
    return "   n/a" if value is None else f"{100 * value:6.2f}"


def _count(value: int | None) -> str:
    return f"{'n/a' if value is None else value:>8}"


def _row(name: str, scores: dict) -> str:
    return (
        f"{name:<28} {_percent(scores['precision'])} {_percent(scores['recall'])} {_percent(scores['f1'])}"
        f" {_count(scores['n_pred'])} {_count(scores['n_gold'])} {_count(scores['n_correct'])}"
    )


NA_NOTE = (
    "n/a: nothing to measure (recall and F1 need gold facts; precision needs gold facts or predictions; "
    "Ign F1 see above)"
)


def format_report(report: dict, n_relations: int = TABLE_RELATIONS) -> str:
    """The report as a readable table (percentages; "n/a" for a figure that measures nothing)."""
    header = f"{'':<28} {'P':>6} {'R':>6} {'F1':>6} {'pred':>8} {'gold':>8} {'correct':>8}"
    if report.get("gold_labelled") is False:
        lines = [
            f"No scores on {report['n_documents']} documents: the gold file has no labels (every figure is n/a)",
            f"predictions: {report['n_pred']} unique, in {report['predictions_file']}",
        ]
    else:
        lines = _format_scores(report, header, n_relations)
    if report.get("diagnostics"):
        diagnostics = report["diagnostics"]
        lines += [
            "",
            "NON-OFFICIAL DIAGNOSTICS (not comparable with published DocRED results)",
            DIAGNOSTICS_NOTE,
            header,
        ]
        lines.append(_row("micro, with no-relation", diagnostics["micro_with_no_relation_class"]))
        lines.append(_row("related pairs only", diagnostics["related_pairs_only"]))
    if "inference" in report:
        inference = report["inference"]
        lines.append(
            f"\ninference: {inference['n_documents']} documents, {inference['n_candidate_pairs']} pairs in "
            f"{inference['seconds']:.1f} s on {inference['device']}"
            + (f" ({inference['precision']})" if inference.get("precision") else "")
        )
    if report.get("end_to_end"):
        lines += _format_end_to_end(report, header)
    if report.get("warnings"):
        lines += ["", *(f"WARNING: {warning}" for warning in report["warnings"])]
    return "\n".join(lines)


def _format_end_to_end(report: dict, header: str) -> list[str]:
    scores = report["end_to_end"]
    lines = [
        "",
        f"End to end from plain text ({scores['n_documents']} documents; entities found by the model's detector, "
        f"coreference '{scores['coreference']}')",
        header,
    ]
    for figure, name in (
        ("mention", "mentions (span and type)"),
        ("mention_span", "mentions (span only)"),
        ("entity", "entities (mention set, type)"),
        ("entity_untyped", "entities (mention set only)"),
        ("relation_strict", "relations strict"),
        ("relation_relaxed", "relations relaxed"),
    ):
        lines.append(_row(name, scores[figure]))
    if report.get("gold_labelled") is not False:
        lines.append(_row("relations, gold entities", report))
    if scores.get("errors"):
        errors = scores["errors"]
        lines.append(
            "gold facts missed end to end, by cause: "
            + ", ".join(f"{key}={value}" for key, value in errors.items() if not key.startswith("spurious"))
        )
        lines.append(
            "wrong triples: "
            + ", ".join(f"{key}={value}" for key, value in errors.items() if key.startswith("spurious"))
        )
    if scores.get("documents_without_relations"):
        lines.append(
            f"{len(scores['documents_without_relations'])} documents' detected entities could not be read as a "
            f"text-form document (no relations predicted there); first: {scores['documents_without_relations'][0]}"
        )
    lines.append(f"graphs: {scores['graphs_file']}")
    return lines


def _format_scores(report: dict, header: str, n_relations: int) -> list[str]:
    lines = [f"Official DocRED scores on {report['n_documents']} documents", header, _row("all", report)]
    ign_line = f"{'Ign F1':<28} {_percent(report['ign_precision'])} {'':>6} {_percent(report['ign_f1'])}"
    note = report.get("ign_note")
    if report.get("ign_f1") is None and note:
        in_warnings = any(note in warning for warning in report.get("warnings", ()))
        ign_line += "  (see the warnings below)" if in_warnings else f"  ({note})"
    lines.append(ign_line)
    if (
        report.get("evidence") is not None
    ):  # the predictions carry evidence: a model trained with the evidence loss
        lines.append(_row("evidence (sentences)", report["evidence"]))
    lines.append(_row("intra-sentence", report["intra"]))
    lines.append(_row("inter-sentence", report["inter"]))
    frequent_source = report["frequent_relations_source"]
    lines.append(
        _row(f"frequent (top {len(report['frequent_relations'])}, {frequent_source})", report["frequent"])
    )
    lines.append(_row("long-tail", report["long_tail"]))
    set_aside = {
        key: report.get(key, 0)
        for key in (
            "n_pred_duplicates",
            "n_pred_no_relation_ignored",
            "n_pred_unknown_title",
            "n_pred_invalid_pair",
            "n_pred_invalid_relation",
        )
    }
    lines.append(
        "predictions set aside or wrong by construction: "
        + ", ".join(f"{k}={v}" for k, v in set_aside.items())
    )
    coverage = report.get("label_coverage")
    if coverage and coverage["n_gold_relations"] is not None:
        lines.append(
            f"{coverage['label_set']}: knows {coverage['n_gold_relations_known']} of the "
            f"{coverage['n_gold_relations']} gold relations ({coverage['n_gold_facts_known']} of "
            f"{coverage['n_gold_facts']} gold facts); {coverage['n_pred_relation_unknown']} predictions outside it"
        )
    by_support = sorted(
        report["per_relation"].items(), key=lambda item: (-(item[1]["support"] or 0), item[0])
    )
    lines += ["", f"Per relation (top {n_relations} by support)", header]
    lines += [_row(f"{code} {row['name']}"[:28], row) for code, row in by_support[:n_relations]]
    if "n/a" in "\n".join(lines):
        lines.append(NA_NOTE)
    return lines


def main(argv: Sequence[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    report = evaluate(args, command=None if argv is None else ["evaluate_model.py", *argv])
    print(format_report(report))
    print(f"\nwrote {os.path.join(args.output_dir, 'report.json')}")
    return report


if __name__ == "__main__":
    main()
