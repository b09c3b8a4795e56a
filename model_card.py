# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The results of a training run (`RunResults`, written as `results.json`) and the Hub model card rendered from them
with huggingface_hub's `ModelCard` and the Jinja template `model_card.md` at the project's top level.

`train.py` calls `write_model_card(model_dir, results)`, which writes `README.md` (what the Hub shows, with the YAML
metadata: licence, datasets, metrics, base model, tags and a `model-index` with the measured results) and the same
text as `model_card.md`. To re-render a card from a finished run::

    python model_card.py OUTPUT_DIR
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAPER = "https://arxiv.org/abs/2507.22926"
TASK_TYPE = "relation-extraction"
TASK_NAME = "Document-level relation extraction"


def template_path() -> Path:
    """The card's Jinja template, `model_card.md`: beside this file (a checkout, an editable install), else where a
    regular install puts it (`<prefix>/share/globalre/`, pyproject's data-files). `FileNotFoundError` names both."""
    candidates = (
        Path(__file__).resolve().parent / "model_card.md",
        Path(sys.prefix) / "share" / "globalre" / "model_card.md",
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"the model card template is missing: looked for {' and '.join(map(str, candidates))}"
    )


@dataclass
class RunResults:
    """What a training run measured and how it ran: `OUTPUT_DIR/results.json`, and what the model card shows.

    Scores are fractions in [0, 1]; `dev` and `test` hold the official metric's figures per split (`f1`, `ign_f1`,
    `precision`, `recall`, `n_documents`, ...). `setup` holds the card's training table as `[label, value]` rows,
    derived from the option declarations (`configuration_globalre.OPTIONS`,
    `globalre_training.options.TRAINING_OPTIONS`). Fields that a run of an earlier version did not write are `None`
    (or empty) when its file is read.
    """

    protocol: str | None = None
    preset: str | None = None
    command: str | None = None
    evaluated_on: str | None = None
    f1: float | None = None
    ign_f1: float | None = None
    precision: float | None = None
    recall: float | None = None
    dev: dict | None = None
    test: dict | None = None
    # --entity_detection: entity_types, coreference (entity F1 of each mode on dev, the chosen one), and the
    # end-to-end figures of dev and test (`end_to_end_metric.score_end_to_end`)
    end_to_end: dict | None = None
    best_epoch: int | None = None
    model_selection: str | None = None
    history: list[dict] = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)
    training_seconds: float | None = None
    cache_seconds: float | None = None
    cached_pair_vectors: bool | None = None
    optimizer_steps: int | None = None
    num_processes: int | None = None
    ranks: list[int] = field(default_factory=list)
    eval_docs_per_rank: dict = field(default_factory=dict)
    mixed_precision: str | None = None
    data: dict = field(default_factory=dict)
    encoder: str | None = None
    base_model: str | None = None
    hub_model_id: str | None = None
    license: str | None = None
    args: dict = field(default_factory=dict)
    setup: list[list[Any]] = field(default_factory=list)
    machine: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    output_dir: str | None = None
    warnings: list[str] = field(default_factory=list)
    finished_at: str | None = None

    @classmethod
    def from_dict(cls, values: dict) -> RunResults:
        """A `results.json` as written by this or an earlier version (unknown keys are kept out)."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {key: value for key, value in values.items() if key in names and value is not None}
        return cls(**known)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def _count(n: int | None, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def card_data(results: RunResults):
    """The card's YAML metadata (`huggingface_hub.ModelCardData`), with a `model-index` of the measured scores."""
    from huggingface_hub import EvalResult, ModelCardData

    data = results.data
    dataset_name = data.get("dataset_name") or "custom data"
    dataset_type = data.get("dataset_hub_id") or "custom"
    eval_results = []
    for split in ("test", "dev"):
        scores = getattr(results, split)
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
    # the model-index name: the Hub repository's, else what the model is
    model_name = results.hub_model_id.split("/")[-1] if results.hub_model_id else f"GlobalRE ({dataset_name})"
    return ModelCardData(
        language="en",
        license=results.license or "mit",
        library_name="transformers",
        tags=["relation-extraction", "document-level-relation-extraction", "globalre", "custom_code"],
        datasets=[data["dataset_hub_id"]] if data.get("dataset_hub_id") else None,
        metrics=["f1", "precision", "recall"],
        base_model=results.base_model,
        model_name=model_name,
        eval_results=eval_results or None,
    )


def _data_lines(data: dict) -> list[str]:
    lines = [
        f"training: `{data.get('train_file')}`"
        + (f" documents `[{data.get('train_docs')}]`" if data.get("train_docs") else "")
        + f", {_count(data.get('n_train_docs'), 'document')}, {data.get('n_train_pairs')} candidate pairs "
        f"({data.get('n_train_related_pairs')} related; {data.get('n_train_truncated_pairs')} truncated)"
    ]
    for name, key in (("development", "dev"), ("test", "test")):
        if data.get(f"{key}_file"):
            lines.append(
                f"{name}: `{data.get(f'{key}_file')}`"
                + (f" `[{data.get(f'{key}_docs')}]`" if data.get(f"{key}_docs") else "")
                + (f", {_count(data[f'n_{key}_docs'], 'document')}" if f"n_{key}_docs" in data else "")
                + (
                    f", {data[f'n_{key}_pairs']} candidate pairs ({data.get(f'n_{key}_truncated_pairs')} truncated)"
                    if f"n_{key}_pairs" in data  # results written before these counts have no figure here
                    else ""
                )
            )
    lines.append(f"{data.get('n_labels')} labels; no-relation class `{data.get('no_relation')}`")
    return lines


def _setup_rows(results: RunResults) -> list[list[Any]]:
    rows = [list(row) for row in results.setup]
    if not rows:  # results.json of a version that did not record the table: rebuild it from the run's options
        from globalre_training.options import setup_rows

        rows = setup_rows(results.args)
    run = [
        ["encoder", results.encoder],
        ["pair vectors cached", results.cached_pair_vectors],
        ["processes", results.num_processes],
        ["mixed precision", results.mixed_precision],
        ["optimizer steps", results.optimizer_steps],
        ["training time", f"{results.training_seconds or 0:.0f} s"],
    ]
    return [row for row in run[:2] + rows + run[2:] if row[1] is not None]


def _end_to_end(results: RunResults) -> dict | None:
    """The card's "From raw text" section: each split's end-to-end F1 figures beside the relation F1 given the
    gold entities, the coreference choice and where the missed facts were lost."""
    measured = results.end_to_end
    if not measured:
        return None
    coreference = measured.get("coreference") or {}
    chosen = coreference.get("chosen")
    if chosen:
        described = {"names": "the name rule", "learned": "the learned mention-pair scorer"}
        others = ", ".join(
            f"{described.get(mode, mode)} {_percent(coreference.get(mode))}" for mode in ("names", "learned")
        )
        coreference_text = f"{described.get(chosen, chosen)} (chosen on dev by entity F1: {others})"
    else:
        coreference_text = "the configured rule (not measured: no dev documents)"
    rows, errors, errors_split = [], None, None
    for split in ("dev", "test"):
        scores = measured.get(split)
        if not scores:
            continue
        rows.append(
            {
                "split": split,
                **{
                    figure: _percent((scores.get(figure) or {}).get("f1"))
                    for figure in ("mention", "entity", "relation_strict", "relation_relaxed")
                },
                "given_entities": _percent((getattr(results, split) or {}).get("f1")),
            }
        )
        if scores.get("errors"):
            errors_split = split
            counts = scores["errors"]
            lost = [key for key in counts if not key.startswith("spurious")]
            errors = (
                ", ".join(f"{key.replace('_', ' ')} {counts[key]}" for key in lost)
                + f"; of the wrong triples, {counts.get('spurious_entities')} have a head or tail that is no gold "
                f"entity and {counts.get('spurious_relation')} a relation the gold entities do not hold"
            )
    return {
        "entity_types": ", ".join(f"`{t}`" for t in measured.get("entity_types", [])),
        "coreference": coreference_text,
        "rows": rows,
        "errors": errors,
        "errors_split": errors_split,
    }


def render_model_card(results: RunResults | dict) -> str:
    """The card text (YAML front matter and Markdown) for a run's results, from the template `model_card.md`."""
    from huggingface_hub import ModelCard

    if isinstance(results, dict):
        results = RunResults.from_dict(results)
    data = results.data
    thresholds = results.thresholds or {}
    decision = f"Decision rule `{thresholds.get('decision_rule')}`"
    if thresholds.get("decision_rule") == "threshold" and thresholds.get("threshold") is not None:
        decision += f", global threshold {thresholds['threshold']:.4f}"
    if thresholds.get("relation_thresholds"):
        decision += f", {len(thresholds['relation_thresholds'])} per-relation thresholds"
    scores = [
        {
            "split": split,
            "documents": split_scores.get("n_documents"),
            **{key: _percent(split_scores.get(key)) for key in ("f1", "ign_f1", "precision", "recall")},
        }
        for split in ("dev", "test")
        if (split_scores := getattr(results, split))
    ]
    history = [
        {
            "epoch": record["epoch"],
            "step": record["step"],
            "seconds": f"{record['speed']['train_seconds']:.0f}" if "speed" in record else "",
            "f1": _percent(record["dev"].get("f1")),
            "ign_f1": _percent(record["dev"].get("ign_f1")),
        }
        for record in results.history
        if record.get("dev")
    ]
    machine = results.machine
    packed = results.args.get("encoding") == "packed"
    if packed:
        segment = (
            "`[CLS] [H] [T]` (levitated head and tail markers)"
            if results.args.get("pair_segment") == "markers"
            else "`[CLS] head [SEP] tail [SEP]`"
        )
        encoding_description = (
            "the packed encoding: a BERT encoder reads each document once and every ordered entity pair as a short "
            f"segment of its own, {segment}, that attends to the document and to itself (never to another pair's)."
        )
        limitations = (
            "Document tokens do not attend to the pair, unlike in the paper's one-pair sequence; the cost grows with "
            "the number of pairs only through their short segments. Documents longer than the sequence budget are "
            "encoded whole as several windows whose tokens attend within their window."
        )
    else:
        encoding_description = (
            "a BERT encoder reads the whole document together with one ordered entity pair, `[CLS] document [SEP] "
            "head [SEP] tail [SEP]`."
        )
        limitations = (
            "Every ordered entity pair is one encoder pass over the whole document, so inference cost grows with the "
            "square of the number of entities. Documents longer than the sequence budget keep only the sentences "
            "around the pair's mentions."
        )
    if results.args.get("classifier") == "group_bilinear":
        head_description = "ATLOP's grouped bilinear classifier (over the head's and the tail's vectors"
        if results.args.get("context_pooling") == "localized":
            head_description += ", each with the pair's localized context from the document's attention"
        head_description += ")"
    else:
        head_description = "A linear head"
    card = ModelCard.from_template(
        card_data(results),
        template_path=str(template_path()),
        title=results.hub_model_id.split("/")[-1]
        if results.hub_model_id
        else "GlobalRE relation extraction model",
        paper=PAPER,
        repo=results.hub_model_id or "ORG/NAME",
        encoding_description=encoding_description,
        limitations=limitations,
        head_description=head_description,
        n_relations=max((data.get("n_labels") or 1) - (1 if data.get("no_relation") else 0), 0),
        dataset_name=data.get("dataset_name") or "custom data",
        preset=results.preset,
        protocol=results.protocol,
        scores=scores,
        history=history,
        end_to_end=_end_to_end(results),
        best_epoch=results.best_epoch,
        model_selection=results.model_selection,
        decision=decision + ".",
        data_lines=_data_lines(data),
        setup=_setup_rows(results),
        hardware=f"{machine.get('gpu') or 'CPU only'}; CPU {machine.get('cpu')}",
        software=_software(results.versions),
        command=results.command,
        warnings=results.warnings,
    )
    return str(card).rstrip("\n") + "\n"


def _software(versions: dict) -> str:
    """The card's software line: each package's version and the GlobalRE commit, said to carry edits when the
    run's checkout had edited tracked files."""
    shown = {name: value for name, value in versions.items() if name != "globalre_uncommitted_changes"}
    if versions.get("globalre_uncommitted_changes") and "globalre_commit" in shown:
        shown["globalre_commit"] += " with uncommitted changes"
    return ", ".join(f"{name} {value}" for name, value in shown.items())


def write_model_card(model_dir: str, results: RunResults | dict) -> str:
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


__all__ = ["RunResults", "card_data", "render_model_card", "write_model_card"]

if __name__ == "__main__":
    main()
