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

The scoring code is `docred_metric.py` at the project root. `evaluate` copies a module's script, and the files
it imports relatively, into its cache before importing it; `docred_metric.py` in this folder is a symbolic
link to the root file, so the relative import below brings the one implementation along.
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
        `predictions`. Titles must be unique.
    train_docs: optional training documents (DocRED format) for Ign F1 and the frequent-relation split.
    no_relation_labels: labels that mean "no relation" (default: "Na" and "NR").
    diagnostics: also return the non-official diagnostics (clearly labelled).
Returns:
    precision, recall, f1, ign_precision, ign_f1 (None without train_docs), counts, and the breakdowns
    intra, inter, frequent, long_tail and per_relation.
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
                    },
                }
            ),
            reference_urls=[
                "https://github.com/thunlp/DocRED/blob/master/code/evaluation.py",
                "https://github.com/tonytan48/Re-DocRED/blob/main/evaluation.py",
            ],
        )

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
        return score_docred(
            submission,
            list(references),
            train_docs,
            no_relation_labels=tuple(no_relation_labels),
            diagnostics=diagnostics,
        )
