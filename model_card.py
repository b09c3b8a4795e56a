# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The Hub model card of a trained GlobalRE model, rendered from the run's `results.json` (never by hand).

`train.py` calls `write_model_card(model_dir, results)`, which writes `README.md` (what the Hub shows, with the YAML
metadata: licence, datasets, metrics, base model, tags and a `model-index` with the measured results) and the same
text as `model_card.md`. To re-render a card from a finished run::

    python model_card.py OUTPUT_DIR
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

PAPER = "https://arxiv.org/abs/2507.22926"
TASK_TYPE = "relation-extraction"
TASK_NAME = "Document-level relation extraction"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def _count(n: int | None, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _metadata(results: dict) -> str:
    from huggingface_hub import EvalResult, ModelCardData

    data = results.get("data") or {}
    dataset_name = data.get("dataset_name") or "custom"
    dataset_type = data.get("dataset_hub_id") or dataset_name
    eval_results = []
    for split in ("test", "dev"):
        scores = results.get(split)
        if not scores:
            continue
        split_name = "test" if split == "test" else "validation"
        for metric, key, label in (("f1", "f1", "F1"), ("f1", "ign_f1", "Ign F1"), ("precision", "precision", "Precision"), ("recall", "recall", "Recall")):  # fmt: skip
            if scores.get(key) is None:
                continue
            eval_results.append(
                EvalResult(
                    task_type=TASK_TYPE,
                    task_name=TASK_NAME,
                    dataset_type=dataset_type,
                    dataset_name=dataset_name,
                    dataset_split=split_name,
                    metric_type=metric,
                    metric_name=f"{label} ({split_name}, %)",
                    metric_value=round(100 * scores[key], 2),
                )
            )
    model_name = (
        results.get("hub_model_id") or os.path.basename(os.path.normpath(results["output_dir"]))
    ).split("/")[-1]
    card = ModelCardData(
        language="en",
        license=results.get("license") or "mit",
        library_name="transformers",
        tags=["relation-extraction", "document-level-relation-extraction", "globalre", "custom_code"],
        datasets=[data["dataset_hub_id"]] if data.get("dataset_hub_id") else None,
        metrics=["f1", "precision", "recall"],
        base_model=results.get("base_model"),
        model_name=model_name,
        eval_results=eval_results or None,
    )
    return card.to_yaml()


def render_model_card(results: dict) -> str:
    """The card text (YAML front matter and Markdown) for a run's results."""
    args = results.get("args") or {}
    data = results.get("data") or {}
    repo = results.get("hub_model_id") or "ORG/NAME"
    lines = ["---", _metadata(results).strip(), "---", ""]
    title = repo.split("/")[-1] if results.get("hub_model_id") else "GlobalRE relation extraction model"
    lines += [
        f"# {title}",
        "",
        f"A [GlobalRE]({PAPER}) model for document-level relation extraction: a BERT encoder reads the whole "
        "document together with one ordered entity pair, `[CLS] document [SEP] head [SEP] tail [SEP]`, and a "
        f"linear head scores {max(data.get('n_labels', 1) - (1 if data.get('no_relation') else 0), 0)} relations "
        f"(multi-label). Trained on {data.get('dataset_name', 'custom data')} with `train.py` "
        f"(preset `{results.get('preset')}`); every number below was written by that run.",
        "",
        "## Usage",
        "",
        "```python",
        "from transformers import pipeline",
        "",
        f'extractor = pipeline("relation-extraction", model="{repo}", trust_remote_code=True)',
        'extractor({"text": "Marie Curie was born in Warsaw.", "entities": ["Marie Curie", "Warsaw"]})',
        "```",
        "",
        "Documents may also be given in DocRED form (`title`, `sents`, `vertexSet`). The model and its processor "
        "load with `AutoModel` / `AutoProcessor` and `trust_remote_code=True`.",
        "",
        "## Results",
        "",
        f"Official DocRED metric (`docred_metric.score_docred`), protocol `{results.get('protocol')}`. "
        "Ign F1 ignores facts seen in the training documents.",
        "",
        "| split | documents | F1 | Ign F1 | precision | recall |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for split in ("dev", "test"):
        scores = results.get(split)
        if scores:
            lines.append(
                f"| {split} | {scores.get('n_documents')} | {_percent(scores.get('f1'))} | "
                f"{_percent(scores.get('ign_f1'))} | {_percent(scores.get('precision'))} | "
                f"{_percent(scores.get('recall'))} |"
            )
    if not (results.get("dev") or results.get("test")):
        lines.append("| (no dev or test file was given) | | | | | |")
    history = [h for h in results.get("history") or [] if h.get("dev")]
    if history:
        lines += [
            "",
            "Dev F1 after each epoch:",
            "",
            "| epoch | step | dev F1 | dev Ign F1 |",
            "|---:|---:|---:|---:|",
        ]
        for record in history:
            lines.append(
                f"| {record['epoch']} | {record['step']} | {_percent(record['dev'].get('f1'))} | "
                f"{_percent(record['dev'].get('ign_f1'))} |"
            )
    thresholds = results.get("thresholds") or {}
    lines += [
        "",
        f"Kept: epoch {results.get('best_epoch')} (`--model_selection {results.get('model_selection')}`). "
        f"Decision rule `{thresholds.get('decision_rule')}`"
        + (
            f", global threshold {thresholds.get('threshold'):.4f}"
            if thresholds.get("decision_rule") == "threshold" and thresholds.get("threshold") is not None
            else ""
        )
        + (
            f", {len(thresholds.get('relation_thresholds') or {})} per-relation thresholds"
            if thresholds.get("relation_thresholds")
            else ""
        )
        + ".",
        "",
        "## Training data",
        "",
        f"- training: `{data.get('train_file')}`" + (f" documents `[{data.get('train_docs')}]`" if data.get("train_docs") else "")
        + f", {_count(data.get('n_train_docs'), 'document')}, {data.get('n_train_pairs')} candidate pairs "
        f"({data.get('n_train_related_pairs')} related; {data.get('n_train_truncated_pairs')} truncated)",
    ]  # fmt: skip
    for name, key in (("development", "dev"), ("test", "test")):
        if data.get(f"{key}_file"):
            lines.append(
                f"- {name}: `{data.get(f'{key}_file')}`"
                + (f" `[{data.get(f'{key}_docs')}]`" if data.get(f"{key}_docs") else "")
                + (f", {_count(data[f'n_{key}_docs'], 'document')}" if f"n_{key}_docs" in data else "")
                + (
                    f", {data[f'n_{key}_pairs']} candidate pairs ({data.get(f'n_{key}_truncated_pairs')} truncated)"
                    if f"n_{key}_pairs" in data  # results written before these counts have no figure here
                    else ""
                )
            )
    lines.append(f"- {data.get('n_labels')} labels; no-relation class `{data.get('no_relation')}`")
    setup = [
        ("encoder", results.get("encoder")),
        ("encoder frozen", args.get("freeze_encoder")),
        ("pair vectors cached", results.get("cached_pair_vectors")),
        ("pooling", args.get("pooling")),
        ("entity markers", args.get("entity_markers")),
        ("entity text", args.get("entity_text")),
        ("long documents", args.get("long_document_strategy")),
        ("max sequence length", args.get("max_seq_length")),
        ("classifier dropout", args.get("classifier_dropout")),
        ("loss", args.get("loss")),
        ("threshold tuning", args.get("threshold_tuning")),
        ("epochs", args.get("num_train_epochs")),
        ("batch size per device", args.get("per_device_train_batch_size")),
        ("gradient accumulation", args.get("gradient_accumulation_steps")),
        ("processes", results.get("num_processes")),
        ("head learning rate", args.get("learning_rate")),
        ("encoder learning rate", args.get("encoder_learning_rate") if not args.get("freeze_encoder") else None),
        ("schedule", f"{args.get('lr_scheduler_type')}, warmup ratio {args.get('warmup_ratio')}"),
        ("gradient clipping", args.get("max_grad_norm")),
        ("negatives per related pair", args.get("negative_ratio") if args.get("negative_ratio") is not None else "all pairs"),
        ("weight decay", args.get("weight_decay")),
        ("mixed precision", results.get("mixed_precision")),
        ("seed", args.get("seed")),
        ("optimizer steps", results.get("optimizer_steps")),
        ("training time", f"{results.get('training_seconds', 0):.0f} s"),
    ]  # fmt: skip
    lines += ["", "## Training procedure", "", "| setting | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in setup if value is not None]
    machine = results.get("machine") or {}
    versions = results.get("versions") or {}
    lines += [
        "",
        f"Hardware: {machine.get('gpu') or 'CPU only'}; CPU {machine.get('cpu')}. Software: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ".",
        "",
        "Command:",
        "",
        "```bash",
        str(results.get("command")),
        "```",
        "",
        "## Limitations",
        "",
        "Every ordered entity pair is one encoder pass over the whole document, so inference cost grows with the "
        "square of the number of entities. Documents longer than the sequence budget keep only the sentences "
        "around the pair's mentions. Scores are those of the data above; other domains may differ.",
        "",
        "## Citation",
        "",
        "```bibtex",
        "@article{globalre2025,",
        "  title   = {Multi-Relation Extraction in Entity Pairs using Global Context},",
        "  author  = {Nilesh and Gupta, Atul and Panday, Avinash C.},",
        "  journal = {arXiv preprint arXiv:2507.22926},",
        "  year    = {2025}",
        "}",
        "```",
        "",
    ]
    return "\n".join(lines)


def write_model_card(model_dir: str, results: dict) -> str:
    """Writes the card as `README.md` (shown by the Hub) and `model_card.md`; returns the text."""
    text = render_model_card(results)
    for name in ("README.md", "model_card.md"):
        with open(os.path.join(model_dir, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    return text


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit(
            "usage: python model_card.py MODEL_DIR  (re-renders the card from MODEL_DIR/results.json)"
        )
    with open(os.path.join(argv[0], "results.json"), encoding="utf-8") as handle:
        write_model_card(argv[0], json.load(handle))


__all__: list[Any] = ["render_model_card", "write_model_card"]

if __name__ == "__main__":
    main()
