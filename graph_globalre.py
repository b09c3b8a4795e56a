# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""A document's knowledge graph: its entities (name, type, mentions) and the relations between them, the output of
`pipeline(..., return_graph=True)` and the lines of `extract.py`.

Needs neither torch nor transformers."""

from __future__ import annotations

from typing import Any

try:  # Hub remote code resolves sibling files only through relative imports
    from .documents_globalre import entity_type
except ImportError:  # the same file used from a source checkout or an installed package
    from documents_globalre import entity_type


def _given_name(entity: Any) -> str | None:
    """The name a text-form entity was given (a name, or a dict with `name`), or None."""
    if isinstance(entity, str):
        return entity
    if isinstance(entity, dict) and isinstance(entity.get("name"), str):
        return entity["name"]
    return None


def _mention(mention: dict, sentences: list[list[str]]) -> dict:
    """A mention as the graph gives it: its text, and its character span `[start, end)` where the document was
    text (`char_span`, from `documents_globalre.text_to_docred`), else its word positions `pos` (end exclusive)."""
    start, end = mention["pos"]
    text = mention["name"] if "name" in mention else " ".join(sentences[mention["sent_id"]][start:end])
    if "char_span" in mention:
        return {
            "text": text,
            "start": mention["char_span"][0],
            "end": mention["char_span"][1],
            "sent_id": mention["sent_id"],
        }
    return {"text": text, "sent_id": mention["sent_id"], "pos": [start, end]}


def document_graph(document: dict, triples: list[dict], text_entities: list | None = None) -> dict:
    """The graph of one document:
    `{"entities": [{"id", "name", "type", "mentions": [...]}], "relations": triples}`.

    Each entity's `id` is its index in the document's `vertexSet`, which the triples' `head` and `tail` give.
    Its `name` is the name the entity was given in text form (by the user or the entity detector), else its first
    mention's. Mentions are `{"text", "start", "end", "sent_id"}` (character offsets `[start, end)` into the text)
    for text input, `{"text", "sent_id", "pos"}` (sentence and word positions, end exclusive) for DocRED input.

    Args:
        document: the document in DocRED form (`documents_globalre.as_docred`: text input keeps each mention's
            `char_span`).
        triples: the pipeline's triples for it (`GlobalReProcessor.post_process`), kept as they are.
        text_entities: the text form's `entities` (names or dicts with `name`), in the order of the `vertexSet`
            they became; None for DocRED input.
    """
    sentences = document["sents"]
    entities = []
    for index, entity in enumerate(document["vertexSet"]):
        mentions = [_mention(mention, sentences) for mention in entity]
        name = _given_name(text_entities[index]) if text_entities is not None else None
        if name is None:
            name = mentions[0]["text"] if mentions else ""
        entities.append({"id": index, "name": name, "type": entity_type(entity), "mentions": mentions})
    return {"entities": entities, "relations": triples}


__all__ = ["document_graph"]
