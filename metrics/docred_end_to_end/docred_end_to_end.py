# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""End-to-end document-level relation extraction scores (mentions, entities, relations strict and relaxed) as an
`evaluate` module.

Load it from the project's files (no Hub access needed)::

    import evaluate

    metric = evaluate.load("path/to/globalre/metrics/docred_end_to_end")
    result = metric.compute(
        predictions=[{"entities": [...], "relations": [...]}, ...],  # one predicted graph per document
        references=[{"title": ..., "entities": [...], "labels": [...]}, ...],  # gold, text form with spans
    )

The scoring code and the definitions are in `end_to_end_metric.py` beside this script (the project root's
`end_to_end_metric.py` is a symbolic link to it); `evaluate` copies relatively imported files along. Inputs are
checked and reduced to the scored fields before the features encode them, so a malformed document raises a
`ValueError` naming it and the field rather than a schema error.
"""

import datasets
import evaluate

from .end_to_end_metric import gold_document, predicted_graph, score_end_to_end

_CITATION = """\
@inproceedings{eberts-ulges-2021-end,
    title = "An End-to-end Model for Entity-level Relation Extraction using Multi-instance Learning",
    author = "Eberts, Markus and Ulges, Andreas",
    booktitle = "Proceedings of EACL",
    year = "2021",
}
"""

_DESCRIPTION = """\
End-to-end relation extraction from raw text: mention P/R/F1 (span and type, span only), entity P/R/F1 (mention
span set equality, with and without type), relation P/R/F1 strict (both entities exactly right, as JEREX) and
relaxed (head and tail each share a mention span with the gold ones), and where the missed gold facts are lost.
All scores are fractions in [0, 1].
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: for each document, the predicted graph `{"entities": [{"type", "mentions": [{"start", "end"}]}],
        "relations": [{"head", "tail", "relation"}]}` (head and tail index `entities`).
    references: the gold documents `{"title", "entities": [{"type", "spans": [[start, end], ...],
        "mention_types"}], "labels": [{"h", "t", "r"}]}`, aligned with `predictions`.
Returns:
    mention, mention_span, entity, entity_untyped, relation_strict, relation_relaxed (each precision, recall, f1
    and counts), errors, n_documents, gold_labelled.
Examples:
    >>> metric = evaluate.load("metrics/docred_end_to_end")
    >>> gold = {"title": "A", "entities": [{"type": "LOC", "spans": [[0, 1]]}, {"type": "LOC", "spans": [[2, 3]]}],
    ...         "labels": [{"h": 0, "t": 1, "r": "P17"}]}
    >>> graph = {"entities": [{"type": "LOC", "mentions": [{"start": 0, "end": 1}]},
    ...                       {"type": "LOC", "mentions": [{"start": 2, "end": 3}]}],
    ...          "relations": [{"head": 0, "tail": 1, "relation": "P17"}]}
    >>> metric.compute(predictions=[graph], references=[gold])["relation_strict"]["f1"]
    1.0
"""

_TRIPLE = {
    "head": datasets.Value("int32"),
    "tail": datasets.Value("int32"),
    "relation": datasets.Value("string"),
}


def _encodable_reference(reference, index):
    gold = gold_document(reference, index)
    # features cannot hold None: a document without labels travels with an empty list and has_labels False
    return {**gold, "labels": gold["labels"] or [], "has_labels": gold["labels"] is not None}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class DocredEndToEnd(evaluate.Metric):
    """End-to-end mention, entity and relation scores (see `end_to_end_metric.py`)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": {
                        "id": datasets.Value("string"),
                        "entities": [
                            {
                                "type": datasets.Value("string"),
                                "mentions": [
                                    {
                                        "start": datasets.Value("int32"),
                                        "end": datasets.Value("int32"),
                                        "type": datasets.Value("string"),
                                    }
                                ],
                            }
                        ],
                        "relations": [_TRIPLE],
                    },
                    "references": {
                        "title": datasets.Value("string"),
                        "entities": [
                            {
                                "type": datasets.Value("string"),
                                "spans": [[datasets.Value("int32")]],
                                "mention_types": [datasets.Value("string")],
                            }
                        ],
                        "labels": [
                            {
                                "h": datasets.Value("int32"),
                                "t": datasets.Value("int32"),
                                "r": datasets.Value("string"),
                            }
                        ],
                        "has_labels": datasets.Value("bool"),
                    },
                }
            ),
            reference_urls=["https://github.com/lavis-nlp/jerex"],
        )

    # The docstrings are needed: `evaluate` appends the inputs description to them.
    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of predicted graphs and gold documents (checked first, see `end_to_end_metric`)."""
        if predictions is not None:
            predictions = [predicted_graph(graph, index) for index, graph in enumerate(predictions)]
        if references is not None:
            references = [_encodable_reference(doc, index) for index, doc in enumerate(references)]
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one predicted graph and its gold document (checked first, see `end_to_end_metric`)."""
        if prediction is not None:
            prediction = predicted_graph(prediction, None)
        if reference is not None:
            reference = _encodable_reference(reference, None)
        return super().add(prediction=prediction, reference=reference, **kwargs)

    def _compute(self, predictions, references) -> dict:
        references = [
            {**doc, "labels": doc["labels"] if doc.pop("has_labels") else None}
            for doc in map(dict, references)
        ]
        return score_end_to_end(predictions, references)
