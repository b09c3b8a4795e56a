# Copyright 2025 The GlobalRE Authors.
#
# Licensed under the MIT License.
"""Data layer for document-level relation extraction in the DocRED format.

A DocRED-format document is a JSON object::

    {
        "title": "Skai TV",
        "sents": [["Skai", "TV", "is", ...], ...],              # tokenised sentences
        "vertexSet": [                                          # one list of mentions per entity
            [{"name": "Skai TV", "sent_id": 0, "pos": [0, 2], "type": "ORG"}, ...],
            ...
        ],
        "labels": [{"h": 0, "t": 2, "r": "P159", "evidence": [0]}, ...],
    }

``pos`` is a half-open ``[start, end)`` range of word offsets inside sentence ``sent_id``. DocRED,
Re-DocRED and the BioCreative V CDR corpus (``r`` in ``{"CID", "NR"}``) all ship in this form. A file is
either a JSON list of documents (as DocRED ships it) or JSON lines (one document per line).

This module provides:

- [`load_docred`]: validated loading into a `datasets.Dataset` with the explicit schema [`DOCRED_FEATURES`].
- [`LabelSet`]: the relation inventory of a dataset (ids, readable names, the "no relation" class).
- [`convert_rebel`]: conversion of REBEL's raw JSON lines into DocRED-format documents.
- [`docred_statistics`]: the corpus counts (documents, triples, ordered and related pairs).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets

from documents_globalre import describe_disagreement, entity_type, mention_name_disagreements, split_words

logger = logging.getLogger(__name__)

# Labels that datasets in the wild use for "these two entities are not related". DocRED's rel2id.json maps
# "Na" to 0; CDR annotates explicit negative pairs with "NR". Neither may ever count as a relation.
NO_RELATION_ALIASES: tuple[str, ...] = ("Na", "NR")

_MENTION_FEATURES = {
    "name": datasets.Value("string"),
    "sent_id": datasets.Value("int32"),
    "pos": [datasets.Value("int32")],
    "type": datasets.Value("string"),
}
_LABEL_FEATURES = {
    "h": datasets.Value("int32"),
    "t": datasets.Value("int32"),
    "r": datasets.Value("string"),
    # CDR ships `"evidence": [null]`, so evidence ids are nullable integers.
    "evidence": [datasets.Value("int32")],
}

#: The Arrow schema of a DocRED-format document. It is given explicitly because a split whose documents all
#: have empty `labels` (DocRED's unlabelled test split) would otherwise be inferred as a list of nulls.
DOCRED_FEATURES = datasets.Features(
    {
        "title": datasets.Value("string"),
        "sents": [[datasets.Value("string")]],
        "vertexSet": [[_MENTION_FEATURES]],
        "labels": [_LABEL_FEATURES],
    }
)


class DocredFormatError(ValueError):
    """A DocRED-format input is malformed. The message names the file, the document (index and title) and the item."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        doc_index: int | None = None,
        title: str | None = None,
        item: str | None = None,
    ):
        self.source = source
        self.doc_index = doc_index
        self.title = title
        self.item = item
        self.reason = message
        super().__init__(_locate(source, doc_index, title, item) + message)


def _locate(source: str | None, doc_index: int | None, title: str | None, item: str | None) -> str:
    parts = []
    if source is not None:
        parts.append(f"{source}")
    if doc_index is not None:
        parts.append(f"document {doc_index} (title {title!r})")
    if item is not None:
        parts.append(item)
    return (": ".join(parts) + ": ") if parts else ""


# ---------------------------------------------------------------------------------------------------------
# Label set
# ---------------------------------------------------------------------------------------------------------


@dataclass
class LabelSet:
    """The relation classes of a dataset.

    Args:
        labels: class names; the index of a name is its class id (e.g. `["Na", "P1376", "P607", ...]`).
        names: readable names by class (e.g. `{"P17": "country"}`); classes without one are named by their code.
        no_relation: the class that means "no relation" (`"Na"` for DocRED, `"NR"` for CDR), or `None` when the
            dataset has no such class. When present it is always class 0, the threshold class of ATLOP-style models.
        negative_aliases: other labels that also mean "no relation" when they occur in a document (CDR's
            rel2id.json maps both `"Na"` and `"NR"`; `"NR"` is the class and `"Na"` an alias of it).
    """

    labels: list[str]
    names: dict[str, str] = field(default_factory=dict)
    no_relation: str | None = "Na"
    negative_aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        duplicates = sorted(label for label, count in Counter(self.labels).items() if count > 1)
        if duplicates:
            raise ValueError(f"LabelSet: duplicate labels {duplicates}")
        if self.no_relation is not None and self.no_relation not in self.labels:
            raise ValueError(f"LabelSet: no_relation {self.no_relation!r} is not one of the labels")
        self.negative_aliases = tuple(a for a in self.negative_aliases if a != self.no_relation)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {label: index for index, label in enumerate(self.labels)}

    @property
    def relations(self) -> list[str]:
        """The classes that are real relations (everything but the no-relation class)."""
        return [label for label in self.labels if label != self.no_relation]

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label: object) -> bool:
        return label in self.labels or label in self.negative_aliases

    def is_no_relation(self, label: str) -> bool:
        """Whether `label` means "no relation" (the no-relation class or one of its aliases)."""
        return label == self.no_relation or label in self.negative_aliases

    def name(self, label: str) -> str:
        return self.names.get(label, label)

    @classmethod
    def from_files(
        cls, rel2id_path: str, rel_info_path: str | None = None, no_relation: str | None = "auto"
    ) -> LabelSet:
        """Build a label set from a `rel2id.json` (label -> id) and an optional `rel_info.json` (label -> name).

        Args:
            no_relation: the no-relation class. `"auto"` picks `"NR"` when rel2id.json has it (a dataset with
                explicit negatives, like CDR) and `"Na"` otherwise. Other members of `NO_RELATION_ALIASES` found in
                rel2id.json become `negative_aliases`: they are not classes, since a model needs one
                "no relation" output, not two.

        Class ids follow rel2id.json except that the no-relation class is moved to id 0 and aliases are removed,
        so CDR (`{"Na": 0, "CID": 1, "NR": 2}`) becomes `["NR", "CID"]`; DocRED's ids are unchanged.
        """
        rel2id = _read_json_object(rel2id_path)
        for label, index in rel2id.items():
            if not isinstance(index, int) or isinstance(index, bool):
                raise DocredFormatError(
                    f"id {index!r} is not an integer", source=rel2id_path, item=f"label {label!r}"
                )
        ordered = sorted(rel2id, key=lambda label: rel2id[label])
        names = {}
        if rel_info_path is not None:
            names = {str(k): str(v) for k, v in _read_json_object(rel_info_path).items()}
        if no_relation == "auto":
            no_relation = "NR" if "NR" in rel2id else ("Na" if "Na" in rel2id else None)
        if no_relation is not None and no_relation not in rel2id:
            raise ValueError(f"{rel2id_path}: no_relation {no_relation!r} is not in rel2id.json")
        aliases = tuple(a for a in NO_RELATION_ALIASES if a in rel2id and a != no_relation)
        relations = [label for label in ordered if label != no_relation and label not in aliases]
        labels = ([no_relation] if no_relation is not None else []) + relations
        return cls(labels=labels, names=names, no_relation=no_relation, negative_aliases=aliases)

    @classmethod
    def from_dir(cls, directory: str, no_relation: str | None = "auto") -> LabelSet:
        """Build a label set from the `rel2id.json` (required) and `rel_info.json` (optional) in a dataset folder."""
        rel2id_path = os.path.join(directory, "rel2id.json")
        if not os.path.isfile(rel2id_path):
            raise FileNotFoundError(f"{directory}: no rel2id.json in this folder")
        rel_info_path = os.path.join(directory, "rel_info.json")
        return cls.from_files(
            rel2id_path, rel_info_path if os.path.isfile(rel_info_path) else None, no_relation=no_relation
        )

    @classmethod
    def from_documents(cls, docs: Iterable[dict], no_relation: str | None = "auto") -> LabelSet:
        """Build a label set from the relations that occur in `docs` (the fallback when no rel2id.json exists).

        Relations are sorted by name so the ids do not depend on document order. With `no_relation="auto"` the
        class is `"NR"` when the documents use it and `"Na"` otherwise.
        """
        seen = {label["r"] for doc in docs for label in doc.get("labels") or []}
        if no_relation == "auto":
            no_relation = "NR" if "NR" in seen else "Na"
        aliases = tuple(a for a in NO_RELATION_ALIASES if a != no_relation)
        relations = sorted(seen - {no_relation} - set(aliases))
        labels = ([no_relation] if no_relation is not None else []) + relations
        return cls(labels=labels, no_relation=no_relation, negative_aliases=aliases)


def resolve_label_set(
    label_dir: str | None, beside: str | None = None, documents_from: Sequence[str | None] = ()
) -> LabelSet | None:
    """The label set of a run, wherever it is decided (`train.py`, `evaluate_model.py`).

    In order: the `rel2id.json` (and `rel_info.json`) of `label_dir` (a `FileNotFoundError` when it has none); the
    ones in the folder of the local file `beside` (a data file); the relations that occur in the local files
    `documents_from` (with a warning: ids then follow relation names, not a published inventory); else `None`.
    """
    if label_dir is not None:
        return LabelSet.from_dir(label_dir)
    if beside and not beside.startswith("hf://"):
        folder = os.path.dirname(os.path.abspath(beside))
        if os.path.isfile(os.path.join(folder, "rel2id.json")):
            return LabelSet.from_dir(folder)
    paths = [path for path in documents_from if path and not path.startswith("hf://")]
    if not paths:
        return None
    logger.warning("no rel2id.json found (--label_dir): the label set is read from the documents' relations")
    return LabelSet.from_documents(doc for path in paths for doc in read_documents(path))


def _read_json_object(path: str) -> dict:
    data = _read_json(path)
    if not isinstance(data, dict):
        raise DocredFormatError(f"expected a JSON object, found {type(data).__name__}", source=path)
    return data


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DocredFormatError(
            f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})", source=path
        ) from error


# ---------------------------------------------------------------------------------------------------------
# Reading and validation
# ---------------------------------------------------------------------------------------------------------


def read_documents(path: str) -> list[Any]:
    """Parse a local file holding a JSON list of documents, or JSON lines (one document per line)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if text.lstrip().startswith("["):
        data = _read_json(path)
        if not isinstance(data, list):
            raise DocredFormatError(
                f"expected a JSON list of documents, found {type(data).__name__}", source=path
            )
        return data
    documents = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            documents.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise DocredFormatError(
                f"line {line_number} is not valid JSON ({error.msg} at column {error.colno})", source=path
            ) from error
    return documents


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_document(
    doc: Any, doc_index: int, source: str = "<documents>", label_set: LabelSet | None = None
) -> dict:
    """Check one document and return it in canonical form; raise `DocredFormatError` naming the faulty item.

    The canonical form has exactly the keys of `DOCRED_FEATURES`. A missing `labels` key (DocRED's unlabelled
    test split) becomes `[]`, a missing `evidence` becomes `[]`, and Hub-style labels (a dict of lists with
    `head`, `tail`, `relation_id`) become DocRED-style label dicts. Anything else unexpected is an error.
    """
    if not isinstance(doc, dict):
        raise DocredFormatError(
            f"expected a JSON object, found {type(doc).__name__}", source=source, doc_index=doc_index
        )
    title = doc.get("title")

    def fail(message: str, item: str | None = None) -> DocredFormatError:
        return DocredFormatError(message, source=source, doc_index=doc_index, title=title, item=item)

    if not isinstance(title, str):
        raise fail(f"'title' must be a string, found {title!r}")
    sents = doc.get("sents")
    if not isinstance(sents, list) or not sents:
        raise fail("'sents' must be a non-empty list of sentences")
    for sent_id, sent in enumerate(sents):
        if not isinstance(sent, list) or not all(isinstance(word, str) for word in sent):
            raise fail("must be a list of word strings", item=f"sentence {sent_id}")
    vertex_set = doc.get("vertexSet")
    if not isinstance(vertex_set, list):
        raise fail("'vertexSet' must be a list of entities")
    entities = [_validate_entity(entity, e, sents, fail) for e, entity in enumerate(vertex_set)]
    labels = [
        _validate_label(label, k, len(entities), len(sents), label_set, fail)
        for k, label in enumerate(_labels_as_list(doc.get("labels"), fail))
    ]
    return {"title": title, "sents": sents, "vertexSet": entities, "labels": labels}


def _validate_entity(entity: Any, e: int, sents: list[list[str]], fail: Callable) -> list[dict]:
    if not isinstance(entity, list) or not entity:
        raise fail("an entity must be a non-empty list of mentions", item=f"entity {e}")
    mentions = []
    for m, mention in enumerate(entity):
        item = f"entity {e} mention {m}"
        if not isinstance(mention, dict):
            raise fail("a mention must be an object", item=item)
        name, sent_id, pos, type_ = (mention.get(key) for key in ("name", "sent_id", "pos", "type"))
        if not isinstance(name, str):
            raise fail(f"'name' must be a string, found {name!r}", item=item)
        if not isinstance(type_, str):
            raise fail(f"'type' must be a string, found {type_!r}", item=item)
        if not _is_int(sent_id) or not 0 <= sent_id < len(sents):
            raise fail(f"sent_id {sent_id!r} is outside the document's {len(sents)} sentences", item=item)
        if not (isinstance(pos, list) and len(pos) == 2 and all(_is_int(p) for p in pos)):
            raise fail(f"pos must be [start, end] word offsets, found {pos!r}", item=item)
        if not 0 <= pos[0] < pos[1] <= len(sents[sent_id]):
            raise fail(
                f"pos {pos} is outside sentence {sent_id}, which has {len(sents[sent_id])} words", item=item
            )
        mentions.append({"name": name, "sent_id": sent_id, "pos": list(pos), "type": type_})
    return mentions


def _labels_as_list(labels: Any, fail: Callable) -> list:
    if labels is None:
        return []
    if isinstance(labels, dict) and "head" in labels:
        # The Hub's `thunlp/docred` stores labels column-wise: {"head": [...], "tail": [...], "relation_id": [...]}.
        evidence = labels.get("evidence") or [[] for _ in labels["head"]]
        return [
            {"h": h, "t": t, "r": r, "evidence": ev}
            for h, t, r, ev in zip(
                labels["head"], labels["tail"], labels["relation_id"], evidence, strict=True
            )
        ]
    if not isinstance(labels, list):
        raise fail(f"'labels' must be a list, found {type(labels).__name__}")
    return labels


def _validate_label(
    label: Any, k: int, n_entities: int, n_sents: int, label_set: LabelSet | None, fail: Callable
) -> dict:
    item = f"label {k}"
    if not isinstance(label, dict):
        raise fail("a label must be an object", item=item)
    h, t, r = label.get("h"), label.get("t"), label.get("r")
    for key, value in (("h", h), ("t", t)):
        if not _is_int(value) or not 0 <= value < n_entities:
            raise fail(f"{key}={value!r} is outside vertexSet, which has {n_entities} entities", item=item)
    if h == t:
        raise fail(f"h and t are the same entity ({h})", item=item)
    if not isinstance(r, str):
        raise fail(f"'r' must be a string, found {r!r}", item=item)
    if label_set is not None and r not in label_set:
        raise fail(f"relation {r!r} is not in the label set ({len(label_set)} labels)", item=item)
    evidence = label.get("evidence")
    evidence = [] if evidence is None else evidence
    if not isinstance(evidence, list) or not all(
        ev is None or (_is_int(ev) and 0 <= ev < n_sents) for ev in evidence
    ):
        raise fail(f"evidence {evidence!r} must list sentence ids below {n_sents}", item=item)
    return {"h": h, "t": t, "r": r, "evidence": evidence}


@dataclass
class ValidationReport:
    """What `load_docred` kept and skipped. `skipped` lists one `DocredFormatError` per skipped document;
    `name_disagreements` one line per mention (of a kept document) whose `name` is not the words at its `pos`
    (see `documents_globalre.mention_name_disagreements`): kept, since public datasets have a few, but counted."""

    source: str
    n_documents_in: int = 0
    n_documents_kept: int = 0
    skipped: list[DocredFormatError] = field(default_factory=list)
    name_disagreements: list[str] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def reasons(self) -> list[str]:
        return [str(error) for error in self.skipped]

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "n_documents_in": self.n_documents_in,
            "n_documents_kept": self.n_documents_kept,
            "n_skipped": self.n_skipped,
            "skipped": self.reasons(),
            "n_name_disagreements": len(self.name_disagreements),
            "name_disagreements": self.name_disagreements,
        }


def validate_documents(
    docs: Iterable[Any],
    source: str = "<documents>",
    *,
    label_set: LabelSet | None = None,
    skip_invalid: bool = False,
    max_docs: int | None = None,
) -> tuple[list[dict], ValidationReport]:
    """Validate documents, raising on the first bad one or, with `skip_invalid`, skipping and reporting it.

    Titles must be unique: the official scorer identifies a document by its title.
    """
    report = ValidationReport(source=source)
    kept: list[dict] = []
    seen_titles: dict[str, int] = {}
    for doc_index, doc in enumerate(docs):
        if max_docs is not None and doc_index >= max_docs:
            break
        report.n_documents_in += 1
        try:
            clean = validate_document(doc, doc_index, source, label_set)
            if clean["title"] in seen_titles:
                raise DocredFormatError(
                    f"duplicate title, already used by document {seen_titles[clean['title']]}",
                    source=source,
                    doc_index=doc_index,
                    title=clean["title"],
                )
        except DocredFormatError as error:
            if not skip_invalid:
                raise
            report.skipped.append(error)
            continue
        seen_titles[clean["title"]] = doc_index
        kept.append(clean)
        report.name_disagreements.extend(
            f"document {doc_index} (title {clean['title']!r}): {describe_disagreement(*disagreement)}"
            for disagreement in mention_name_disagreements(clean)
        )
    report.n_documents_kept = len(kept)
    if report.name_disagreements:
        # Re-DocRED's dev and test files have 3 each (a list number before the name): counted, not refused
        logger.warning(
            "%s: %d mention(s) whose 'name' is not the words at their 'pos' (compared without white space, case, "
            "quote and Unicode differences; the model reads the words in the text, the name as the entity's name):\n  %s%s",
            source,
            len(report.name_disagreements),
            "\n  ".join(report.name_disagreements[:5]),
            "\n  ..." if len(report.name_disagreements) > 5 else "",
        )
    if report.skipped:
        logger.warning(
            "%s: skipped %d of %d documents as invalid:\n  %s",
            source,
            report.n_skipped,
            report.n_documents_in,
            "\n  ".join(report.reasons()),
        )
    return kept, report


# ---------------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------------


def load_docred(
    path_or_name: str,
    split: str | None = None,
    *,
    label_set: LabelSet | None = None,
    skip_invalid: bool = False,
    max_docs: int | None = None,
) -> datasets.Dataset:
    """Load and validate DocRED-format documents into a `datasets.Dataset` with the schema `DOCRED_FEATURES`.

    `path_or_name` is one of:

    - a local file: a JSON list of documents (as DocRED, Re-DocRED and CDR ship them) or JSON lines. `split`
      is ignored.
    - `hf://datasets/<owner>/<name>/<file>.json`: a DocRED-format file in a Hub dataset repository, downloaded
      with `huggingface_hub` and then read as a local file. Re-DocRED is published on GitHub
      (tonytan48/Re-DocRED, `data/train_revised.json`, `dev_revised.json`, `test_revised.json`); a Hub copy of
      those files is loaded this way.
    - a Hub dataset name such as `"thunlp/docred"`, loaded with `datasets.load_dataset(name, split=split)`. The
      `thunlp/docred` splits are `train_annotated`, `train_distant`, `validation` and `test` (unlabelled); its
      column-wise labels (`head`, `tail`, `relation_id`, `evidence`) are converted to DocRED-style label dicts.

    Every document is validated (see `validate_document`): the first bad document raises `DocredFormatError`
    naming the file, the document's index and title and the faulty item. With `skip_invalid=True` bad
    documents are skipped instead; the count and reasons are logged as a warning and kept as the
    `validation_report` attribute (a `ValidationReport`) of the returned dataset. Nothing is dropped silently.

    We parse the JSON ourselves rather than through `load_dataset("json")` so that errors can name documents
    and items; the Arrow table is still built by `datasets` with the explicit features.

    Args:
        label_set: when given, every label's relation must belong to it.
        max_docs: keep only the first `max_docs` documents (quick runs).
    """
    source, raw_docs = _read_source(path_or_name, split)
    docs, report = validate_documents(
        raw_docs, source, label_set=label_set, skip_invalid=skip_invalid, max_docs=max_docs
    )
    dataset = datasets.Dataset.from_list(docs, features=DOCRED_FEATURES)
    dataset.validation_report = report
    return dataset


def _read_source(path_or_name: str, split: str | None) -> tuple[str, Iterable[Any]]:
    if os.path.exists(path_or_name):
        return path_or_name, read_documents(path_or_name)
    if path_or_name.startswith("hf://"):
        return path_or_name, read_documents(_download_hub_file(path_or_name))
    if re.fullmatch(r"[\w.-]+/[\w.-]+", path_or_name):
        if split is None:
            raise ValueError(f"{path_or_name}: a Hub dataset needs a split (e.g. 'validation')")
        hub_dataset = datasets.load_dataset(path_or_name, split=split)
        return f"{path_or_name}[{split}]", hub_dataset
    raise FileNotFoundError(f"{path_or_name}: no such file, and not a Hub dataset name or hf:// path")


def _download_hub_file(uri: str) -> str:
    from huggingface_hub import hf_hub_download

    match = re.fullmatch(r"hf://datasets/([^/]+/[^/@]+)(?:@([^/]+))?/(.+)", uri)
    if match is None:
        raise ValueError(f"{uri}: expected hf://datasets/<owner>/<name>[@revision]/<path/in/repo>")
    repo_id, revision, filename = match.groups()
    return hf_hub_download(repo_id, filename, repo_type="dataset", revision=revision)


def load_documents(
    path: str, *, label_set: LabelSet | None = None, max_docs: int | None = None
) -> list[dict]:
    """Load and validate documents as plain Python dicts (the form the scorer and the pipeline use)."""
    source, raw_docs = _read_source(path, None)
    docs, _ = validate_documents(raw_docs, source, label_set=label_set, max_docs=max_docs)
    return docs


# ---------------------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------------------


def related_pairs(
    doc: dict, no_relation_labels: Sequence[str] = NO_RELATION_ALIASES
) -> dict[tuple[int, int], set[str]]:
    """The ordered entity pairs of `doc` that hold at least one relation, with their relations."""
    relations: dict[tuple[int, int], set[str]] = defaultdict(set)
    for label in doc.get("labels") or []:
        if label["r"] not in no_relation_labels:
            relations[(label["h"], label["t"])].add(label["r"])
    return dict(relations)


def docred_statistics(docs: Iterable[dict], no_relation_labels: Sequence[str] = NO_RELATION_ALIASES) -> dict:
    """Corpus counts as SOURCES.md states them.

    `triples` counts label entries that are real relations (CDR's explicit `NR` negatives excluded);
    `ordered_pairs` counts (h, t) with h != t; `related_pairs` those holding at least one relation, and
    `multi_relation_share` the fraction of related pairs holding two or more distinct relations.
    """
    stats = Counter()
    max_entities = 0
    for doc in docs:
        n_entities = len(doc["vertexSet"])
        max_entities = max(max_entities, n_entities)
        relations = related_pairs(doc, no_relation_labels)
        stats["documents"] += 1
        stats["entities"] += n_entities
        stats["triples"] += sum(1 for label in doc["labels"] if label["r"] not in no_relation_labels)
        stats["ordered_pairs"] += n_entities * (n_entities - 1)
        stats["related_pairs"] += len(relations)
        stats["multi_relation_pairs"] += sum(1 for rels in relations.values() if len(rels) > 1)
    result = dict(stats)
    result["max_entities"] = max_entities
    result["multi_relation_share"] = (
        stats["multi_relation_pairs"] / stats["related_pairs"] if stats["related_pairs"] else 0.0
    )
    return result


# ---------------------------------------------------------------------------------------------------------
# Candidate-pair labels
# ---------------------------------------------------------------------------------------------------------


def parse_pair_types(items: Sequence[str] | None) -> list[list[str]] | None:
    """`["CHEM:DISE", ...]` (the command-line form of `pair_types`) as `[["CHEM", "DISE"], ...]`; `None` stays
    `None`. Raises a `ValueError` naming an item that is not `HEAD:TAIL`."""
    if items is None:
        return None
    parsed = []
    for item in items:
        if isinstance(item, (list, tuple)) and len(item) == 2:  # already parsed
            parsed.append([str(item[0]), str(item[1])])
            continue
        head, sep, tail = str(item).partition(":")
        if not sep or not head or not tail or ":" in tail:
            raise ValueError(f"pair type {item!r}: expected HEAD:TAIL, e.g. CHEM:DISE")
        parsed.append([head, tail])
    return parsed


#: The relations `orient_pairs` turns round by default, for data whose only relation is CDR's CID ("chemical
#: induces disease"): the corpus states it between a chemical and a disease in either order (in CDR's train
#: file, 303 of 1,038 CID labels run disease -> chemical), so in practice it has no direction.
CDR_UNDIRECTED_RELATIONS: tuple[str, ...] = ("CID",)


def default_undirected_relations(docs: Iterable[dict]) -> tuple[str, ...]:
    """The undirected relations `orient_pairs` assumes when none are declared: `CDR_UNDIRECTED_RELATIONS` when
    the only relation of the labels of `docs` (no-relation labels aside) is CID, CDR's label set; else none."""
    relations = {
        label["r"]
        for doc in docs
        for label in doc.get("labels") or []
        if label["r"] not in NO_RELATION_ALIASES
    }
    return CDR_UNDIRECTED_RELATIONS if relations == set(CDR_UNDIRECTED_RELATIONS) else ()


def orient_pairs(
    docs: list[dict],
    allowed: Sequence[tuple[str, str]],
    source: str = "",
    undirected_relations: Collection[str] | None = None,
) -> tuple[list[dict], list[str]]:
    """Turns labels of undirected relations round to the allowed entity-type direction (`pair_types`).

    A label whose (head type, tail type) is not allowed but whose reverse is gets head and tail swapped only when
    its relation has no direction: a relation of `undirected_relations` (default: `default_undirected_relations`,
    CID for CDR's data) or a no-relation label (`NO_RELATION_ALIASES`, e.g. CDR's NR). Labels that become
    duplicates are merged (one label, with the evidence of both). A label of any other relation keeps its
    direction: turning Re-DocRED's P35 "head of state" (country -> person) round would state that the person is
    head of state of the country. It stays outside the candidate pairs, where a model never predicts it (it counts
    as missed), and is reported.

    Returns:
        New documents (the inputs are not changed) and warnings: how many labels of directed relations run
        against the candidate direction, with an example (document, label, relation, entities). The number of
        labels turned and the warnings are logged.
    """
    allowed_set = {tuple(pair) for pair in allowed}
    if undirected_relations is None:
        undirected_relations = default_undirected_relations(docs)
    turnable = set(undirected_relations) | set(NO_RELATION_ALIASES)
    oriented, turned, against, example = [], 0, Counter(), None
    for doc_index, doc in enumerate(docs):
        types = [entity_type(entity) for entity in doc["vertexSet"]]
        labels, seen = [], {}
        for k, label in enumerate(doc.get("labels") or []):
            h, t = label["h"], label["t"]
            if (types[h], types[t]) not in allowed_set and (types[t], types[h]) in allowed_set:
                if label["r"] in turnable:
                    label = {**label, "h": t, "t": h}
                    turned += 1
                else:
                    against[label["r"]] += 1
                    example = example or (
                        f"document {doc_index} ({doc.get('title')!r}) label {k}: {label['r']} from entity {h} "
                        f"({types[h]}) to entity {t} ({types[t]})"
                    )
            key = (label["h"], label["t"], label["r"])
            if key not in seen:
                seen[key] = len(labels)
                labels.append(label)
            else:  # the same fact twice (turned, or given twice): one label, with the evidence of both
                kept = labels[seen[key]]
                evidence = list(kept.get("evidence") or [])
                evidence += [e for e in label.get("evidence") or [] if e not in evidence]
                labels[seen[key]] = {**kept, "evidence": evidence}
        oriented.append({**doc, "labels": labels})
    direction = ", ".join(f"{a}->{b}" for a, b in sorted(allowed_set))
    if turned:
        logger.warning(
            "%s: turned %d labels of undirected relations (%s) around to the candidate direction %s",
            source or "documents",
            turned,
            ", ".join(sorted(turnable)),
            direction,
        )
    warnings = []
    if against:
        counts = ", ".join(f"{relation} ({count})" for relation, count in against.most_common())
        warnings.append(
            f"{source or 'documents'}: {sum(against.values())} labels of directed relations run against the "
            f"candidate direction {direction} ({counts}), e.g. {example}: they are not turned round and stay "
            "outside the candidate pairs, where a model with these pair types predicts nothing (they count as "
            "missed). A relation that has no direction can be declared undirected (--undirected_relations)"
        )
    for warning in warnings:
        logger.warning("%s", warning)
    return oriented, warnings


def relation_type_pairs(docs: Iterable[dict], label_set: LabelSet) -> dict[str, list[list[str]]]:
    """For each relation of the labels, the `[head type, tail type]` pairs it holds between in `docs` (entity types
    by `entity_type`), sorted: what `GlobalReConfig.type_constraints` keeps a prediction to. No-relation labels
    and untyped entities are left out."""
    seen: dict[str, set[tuple[str, str]]] = {}
    for doc in docs:
        types = [entity_type(entity) for entity in doc["vertexSet"]]
        for label in doc.get("labels") or []:
            head_type, tail_type = types[label["h"]], types[label["t"]]
            if label_set.is_no_relation(label["r"]) or not head_type or not tail_type:
                continue
            seen.setdefault(label["r"], set()).add((head_type, tail_type))
    return {relation: [list(pair) for pair in sorted(pairs)] for relation, pairs in sorted(seen.items())}


def pair_relations(doc: dict, doc_index: int, label_set: LabelSet) -> dict[tuple[int, int], set[str]]:
    """The relations of each related (head, tail) pair of a document; labels that mean "no relation" are left
    out, and a relation outside the label set is an error naming the document and the label."""
    relations: dict[tuple[int, int], set[str]] = defaultdict(set)
    for k, label in enumerate(doc.get("labels") or []):
        if label_set.is_no_relation(label["r"]):
            continue
        if label["r"] not in label_set.labels:
            raise DocredFormatError(
                f"relation {label['r']!r} is not in the label set",
                doc_index=doc_index,
                title=doc.get("title"),
                item=f"label {k}",
            )
        relations[(label["h"], label["t"])].add(label["r"])
    return relations


# ---------------------------------------------------------------------------------------------------------
# REBEL conversion
# ---------------------------------------------------------------------------------------------------------

#: The entity type given to REBEL entities, which carry no type; "MISC" is one of DocRED's types.
REBEL_ENTITY_TYPE = "MISC"


def convert_rebel(
    jsonl_path: str, *, max_docs: int | None = None, entity_type: str = REBEL_ENTITY_TYPE
) -> tuple[list[dict], dict]:
    """Convert REBEL raw JSON lines (text, entities with character boundaries and URIs, triples) to DocRED form.

    - Words and sentences: as text input is split (`documents_globalre.split_words`: `\\w+` runs and single
      punctuation characters; sentences end after `.`, `!`, `?` followed by whitespace and at line breaks), except
      that no sentence ends inside an entity mention (e.g. after "St."), so no mention is lost to the splitter.
    - Entities: mentions are grouped by Wikidata URI, one entity per URI in order of first mention; a mention
      covers every token its character span overlaps. Its `name` is its surface form.
    - Triples: `{"h", "t", "r": predicate URI, "evidence": []}` (REBEL's `sentence_id` counts sentences with
      another splitter, so it is not used as evidence).

    - Mentions whose boundaries do not match their surface form are moved to the nearest occurrence of the
      surface form (`_align_mention`; counted as `mentions_realigned`).

    Returns the documents and a report: documents, entities (URIs), mentions and triples in and out, the
    relation names seen (`P123 -> "publisher"`), and `dropped`: counts by reason (`"documents/<reason>"`,
    `"mentions/<reason>"`, `"triples/<reason>"`). Every dropped item is counted under one reason.
    """
    report: dict[str, Any] = Counter()
    dropped: Counter = Counter()
    relation_names: dict[str, str] = {}
    docs: list[dict] = []
    with open(jsonl_path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if max_docs is not None and report["documents_in"] >= max_docs:
                break
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DocredFormatError(
                    f"line {line_number} is not valid JSON ({error.msg})", source=jsonl_path
                ) from error
            report["documents_in"] += 1
            doc = _convert_rebel_record(record, entity_type, report, dropped, relation_names)
            if doc is None:
                continue
            docs.append(doc)
    report["documents_out"] = len(docs)
    result = {key: report[key] for key in sorted(report)}
    result["dropped"] = {reason: count for reason, count in sorted(dropped.items()) if count}
    result["relation_names"] = dict(sorted(relation_names.items()))
    return docs, result


def _convert_rebel_record(
    record: dict, entity_type: str, report: Counter, dropped: Counter, relation_names: dict[str, str]
) -> dict | None:
    text = record.get("text") or ""
    raw_entities = record.get("entities") or []
    raw_triples = record.get("triples") or []
    report["entities_in"] += len({entity.get("uri") for entity in raw_entities})
    report["mentions_in"] += len(raw_entities)
    report["triples_in"] += len(raw_triples)
    aligned = [(entity, *_align_mention(text, entity)) for entity in raw_entities]
    sents, offsets = split_words(text, protected=[span for _, span, _ in aligned if span is not None])
    if not sents:
        dropped["documents/empty_text"] += 1
        dropped["mentions/document_dropped"] += len(raw_entities)
        dropped["triples/document_dropped"] += len(raw_triples)
        return None
    # every word as (sentence, position in it, start character, end character), in text order
    words = [(s, p, a, b) for s, spans in enumerate(offsets) for p, (a, b) in enumerate(spans)]

    spans: dict[str, list[tuple[int, int]]] = {}
    seen_spans: set[tuple[str, int, int]] = set()
    for entity, char_span, realigned in aligned:
        word_span = None if char_span is None else _word_span(char_span, words)
        if word_span is None:
            dropped["mentions/surfaceform_not_near_boundaries"] += 1
            continue
        report["mentions_realigned"] += realigned
        key = (entity.get("uri"), *word_span)
        if key in seen_spans:
            dropped["mentions/duplicate"] += 1
            continue
        seen_spans.add(key)
        spans.setdefault(entity["uri"], []).append(word_span)

    vertex_set, uri_to_entity = [], {}
    for uri, uri_spans in spans.items():
        uri_to_entity[uri] = len(vertex_set)
        vertex_set.append([_mention(text, words, span, entity_type) for span in sorted(uri_spans)])
    report["mentions_out"] += sum(len(entity) for entity in vertex_set)
    report["entities_out"] += len(vertex_set)
    dropped["entities/no_mention_left"] += len({entity.get("uri") for entity in raw_entities}) - len(
        vertex_set
    )

    labels, seen_triples = [], set()
    for triple in raw_triples:
        h = uri_to_entity.get((triple.get("subject") or {}).get("uri"))
        t = uri_to_entity.get((triple.get("object") or {}).get("uri"))
        predicate = triple.get("predicate") or {}
        r = predicate.get("uri")
        if h is None or t is None:
            dropped["triples/entity_without_mention"] += 1
        elif not r:
            dropped["triples/no_predicate"] += 1
        elif h == t:
            dropped["triples/self_relation"] += 1
        elif (h, t, r) in seen_triples:
            dropped["triples/duplicate"] += 1
        else:
            seen_triples.add((h, t, r))
            labels.append({"h": h, "t": t, "r": r, "evidence": []})
            if predicate.get("surfaceform"):
                relation_names.setdefault(r, predicate["surfaceform"])
    report["triples_out"] += len(labels)
    if not labels:
        report["documents_without_triples"] += 1
    return {
        "title": record.get("title") or str(record.get("docid")),
        "sents": sents,
        "vertexSet": vertex_set,
        "labels": labels,
    }


def _align_mention(text: str, entity: dict) -> tuple[tuple[int, int] | None, bool]:
    """The character span of a mention and whether it had to be moved to match the surface form.

    About one REBEL mention in six has boundaries shifted by a few characters from its surface form (and
    some end past the text). We anchor such a mention at the occurrence of its surface form nearest to the
    given start, within `_REALIGN_WINDOW` characters; without a surface form the boundaries are used as given.
    """
    boundaries = entity.get("boundaries")
    if not (isinstance(boundaries, list) and len(boundaries) == 2 and all(_is_int(b) for b in boundaries)):
        return None, False
    start, end = boundaries
    surface = entity.get("surfaceform")
    if not surface:
        return ((start, end) if 0 <= start < end <= len(text) else None), False
    if text[start:end] == surface:
        return (start, end), False
    occurrences = [
        match.start()
        for match in re.finditer(re.escape(surface), text)
        if abs(match.start() - start) <= _REALIGN_WINDOW
    ]
    if not occurrences:
        return None, False
    best = min(occurrences, key=lambda position: (abs(position - start), position))
    return (best, best + len(surface)), True


_REALIGN_WINDOW = 20


def _word_span(char_span: tuple[int, int], words: list[tuple[int, int, int, int]]) -> tuple[int, int] | None:
    """The half-open range of words overlapping the character span, or None when there is none."""
    start_char, end_char = char_span
    covered = [
        index for index, (_, _, start, end) in enumerate(words) if start < end_char and end > start_char
    ]
    if not covered:
        return None
    return covered[0], covered[-1] + 1


def _mention(
    text: str, words: list[tuple[int, int, int, int]], span: tuple[int, int], entity_type: str
) -> dict:
    """A DocRED mention of the words `span` (a mention never straddles a sentence end: see `split_words`)."""
    first, last = words[span[0]], words[span[1] - 1]
    return {
        "name": text[first[2] : last[3]],
        "sent_id": first[0],
        "pos": [first[1], last[1] + 1],
        "type": entity_type,
    }
