# Copyright 2025 The GlobalRE Authors.
#
# Licensed under the MIT License.
"""The official DocRED / Re-DocRED relation extraction metric as an `evaluate` module.

Load it from the project's files (no Hub access needed)::

    import evaluate

    metric = evaluate.load("path/to/globalre/metrics/docred_re")
    result = metric.compute(
        predictions=[[{"h_idx": 0, "t_idx": 2, "r": "P159"}], ...],  # one list of triples per document
        references=gold_docs,  # DocRED-format documents, aligned with predictions
        train_docs=train_docs,  # optional: enables Ign F1 and the frequent / long-tail split
    )

The scoring code is `docred_metric.py` in this folder (the project root's `docred_metric.py` is a symbolic link
to it). `evaluate` copies a module's script, and the files it imports relatively from beside it, into its cache
before importing it, so the relative import below brings the one implementation along, and a copy of this
folder (`cp -r`, an upload to the Hub) carries it too. `evaluate`
looks for a script named after its folder: load a copy renamed to `x` as `evaluate.load("x/docred_re.py")`.

References are accepted as `docred_data.load_documents` accepts documents: a label without `evidence` (or with
`evidence: null`) gets `[]`, Hub-style column-wise labels (`head`, `tail`, `relation_id`) become label dicts,
and a document without `labels` (or `labels: null`) is unlabelled. When no reference has labels nothing is
scored (every figure `None`, `gold_labelled` False); when only some have, `compute` raises a `ValueError`
naming them. A reference that cannot be read raises a `ValueError` naming it (index and title) and the item.

The predictions' features are the relation triples only, so this module scores relations: its `evidence` is
always `None`. Evidence (Evi P, R, F1) is scored by `docred_metric.score_docred` on submission-format predictions
that carry `evidence`, as `evaluate_model.py` does for a model that predicts it.
"""

import datasets
import evaluate

from .docred_metric import DEFAULT_NO_RELATION_LABELS, score_docred

_CITATION = """\
@inproceedings{yao-etal-2019-docred,
    title = "{D}oc{RED}: A Large-Scale Document-Level Relation Extraction Dataset",
    author = "Yao, Yuan and Ye, Deming and Li, Peng and Han, Xu and Lin, Yankai and Liu, Zhenghao and Liu, Zhiyuan and Huang, Lixin and Zhou, Jie and Sun, Maosong",
    booktitle = "Proceedings of ACL",
    year = "2019",
}
@inproceedings{tan-etal-2022-revisiting,
    title = "Revisiting {D}oc{RED} - Addressing the False Negative Problem in Relation Extraction",
    author = "Tan, Qingyu and Xu, Lu and Bing, Lidong and Ng, Hwee Tou and Aljunied, Sharifah Mahani",
    booktitle = "Proceedings of EMNLP",
    year = "2022",
}
"""

_DESCRIPTION = """\
Relation extraction precision, recall, F1 and Ign F1 over unique (title, head, tail, relation) facts, as the
official DocRED scorer computes them, with Re-DocRED's breakdowns (intra- / inter-sentence pairs, frequent /
long-tail relations) and a per-relation table. All scores are fractions in [0, 1].
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: for each document, a list of predicted triples `{"h_idx": int, "t_idx": int, "r": str}`.
    references: the gold documents in DocRED format (`title`, `sents`, `vertexSet`, `labels`), aligned with
        `predictions`. Titles must be unique. `evidence` may be left out; so may `labels`, in every document
        of an unlabelled split (then nothing is scored) but not in some only (a `ValueError` naming them).
    train_docs: optional training documents (DocRED format) for Ign F1 and the frequent-relation split.
    no_relation_labels: labels that mean "no relation" (default: "Na" and "NR").
    diagnostics: also return the non-official diagnostics (clearly labelled).
Returns:
    precision, recall, f1, ign_precision, ign_f1 (None without train_docs, or where they measure nothing:
    recall and F1 of a group without gold facts, Ign F1 when train_docs share documents with the references;
    see `docred_metric`), ign_note, counts, the breakdowns intra, inter, frequent, long_tail and per_relation,
    gold_labelled and warnings.
Examples:
    >>> metric = evaluate.load("metrics/docred_re")
    >>> doc = {"title": "A", "sents": [["x", "y"]], "labels": [{"h": 0, "t": 1, "r": "P17", "evidence": [0]}],
    ...        "vertexSet": [[{"name": "x", "sent_id": 0, "pos": [0, 1], "type": "LOC"}],
    ...                      [{"name": "y", "sent_id": 0, "pos": [1, 2], "type": "LOC"}]]}
    >>> metric.compute(predictions=[[{"h_idx": 0, "t_idx": 1, "r": "P17"}]], references=[doc])["f1"]
    1.0
"""

_MENTION = {
    "name": datasets.Value("string"),
    "sent_id": datasets.Value("int32"),
    "pos": [datasets.Value("int32")],
    "type": datasets.Value("string"),
}
_LABEL = {
    "h": datasets.Value("int32"),
    "t": datasets.Value("int32"),
    "r": datasets.Value("string"),
    "evidence": [datasets.Value("int32")],
}


def reference_document(doc, index: int | None) -> dict:
    """A reference document in the module's input schema, or a `ValueError` naming it (index and title) and the
    item. Missing `evidence` becomes `[]`; Hub-style column-wise labels become label dicts; missing (or null)
    `labels` becomes `[]` with `has_labels` False, so that `_compute` can give `score_docred` an unlabelled
    document rather than one without relations (the features' checks refuse a null list)."""
    name = "reference" if index is None else f"reference {index}"
    if not isinstance(doc, dict):
        raise ValueError(f"{name}: expected a DocRED-format document (a dict), found {type(doc).__name__}")
    where = f"{name} (title {doc.get('title')!r})"
    missing = [key for key in ("title", "sents", "vertexSet") if key not in doc]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(repr(key) for key in missing)}")
    for e, entity in enumerate(doc["vertexSet"]):
        for m, mention in enumerate(entity if isinstance(entity, list) else [entity]):
            if not isinstance(mention, dict) or not _MENTION.keys() <= mention.keys():
                raise ValueError(
                    f"{where}, entity {e} mention {m}: expected a dict with {', '.join(_MENTION)}, found {mention!r}"
                )
    labels = doc.get("labels")
    if isinstance(labels, dict) and "head" in labels:
        # as docred_data: the Hub's `thunlp/docred` stores labels column-wise
        evidence = labels.get("evidence") or [[] for _ in labels["head"]]
        labels = [
            {"h": h, "t": t, "r": r, "evidence": ev}
            for h, t, r, ev in zip(
                labels["head"], labels["tail"], labels["relation_id"], evidence, strict=True
            )
        ]
    if labels is not None:
        if not isinstance(labels, list):
            raise ValueError(f"{where}: 'labels' must be a list, found {type(labels).__name__}")
        n_entities = len(doc["vertexSet"])
        for k, label in enumerate(labels):
            if not isinstance(label, dict) or not {"h", "t", "r"} <= label.keys():
                raise ValueError(f"{where}, label {k}: expected a dict with h, t and r, found {label!r}")
            for key in ("h", "t"):
                value = label[key]
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n_entities:
                    raise ValueError(
                        f"{where}, label {k}: {key}={value!r} is outside vertexSet, which has "
                        f"{n_entities} entities"
                    )
        labels = [
            {"h": label["h"], "t": label["t"], "r": label["r"], "evidence": label.get("evidence") or []}
            for label in labels
        ]
    return {
        "title": doc["title"],
        "sents": doc["sents"],
        "vertexSet": doc["vertexSet"],
        "labels": labels if labels is not None else [],
        "has_labels": labels is not None,
    }


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class DocredRe(evaluate.Metric):
    """Official DocRED / Re-DocRED relation extraction scores (see `docred_metric.py`)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": [
                        {
                            "h_idx": datasets.Value("int32"),
                            "t_idx": datasets.Value("int32"),
                            "r": datasets.Value("string"),
                        }
                    ],
                    "references": {
                        "title": datasets.Value("string"),
                        "sents": [[datasets.Value("string")]],
                        "vertexSet": [[_MENTION]],
                        "labels": [_LABEL],
                        # filled in by `reference_document`: False where the document came without labels
                        "has_labels": datasets.Value("bool"),
                    },
                }
            ),
            reference_urls=[
                "https://github.com/thunlp/DocRED/blob/master/code/evaluation.py",
                "https://github.com/tonytan48/Re-DocRED/blob/main/evaluation.py",
            ],
        )

    # `compute` goes through `add_batch`; both run before the features encode the references, which would raise a
    # bare KeyError for a missing `labels` or `evidence`. The docstrings are needed: `evaluate` appends the inputs
    # description to them.
    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of predictions and references (see `reference_document` for what references may lack)."""
        if references is not None:
            references = [reference_document(doc, index) for index, doc in enumerate(references)]
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one prediction and its reference (see `reference_document` for what a reference may lack)."""
        if reference is not None:
            reference = reference_document(reference, None)
        return super().add(prediction=prediction, reference=reference, **kwargs)

    def _compute(
        self,
        predictions,
        references,
        train_docs=None,
        no_relation_labels=DEFAULT_NO_RELATION_LABELS,
        diagnostics=False,
    ) -> dict:
        # Triples carry no title here: each one belongs to the reference document at the same position.
        submission = [
            {"title": doc["title"], "h_idx": triple["h_idx"], "t_idx": triple["t_idx"], "r": triple["r"]}
            for doc_triples, doc in zip(predictions, references, strict=True)
            for triple in doc_triples or []
        ]
        gold_docs = []
        for doc in references:
            doc = dict(doc)
            if not doc.pop("has_labels"):
                # a document that came without labels goes to the scorer without them: unlabelled, not "no relation"
                del doc["labels"]
            gold_docs.append(doc)
        return score_docred(
            submission,
            gold_docs,
            train_docs,
            no_relation_labels=tuple(no_relation_labels),
            diagnostics=diagnostics,
        )
