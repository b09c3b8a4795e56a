# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""Documents for GlobalRE: text form (`{"text", "entities"}`) converted to DocRED form (`{"title", "sents",
"vertexSet"}`), the word and sentence split both forms share, and how errors name a document and its entities.

Needs neither torch nor transformers, so that loading data (`docred_data`) stays light."""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger(__name__)

# Words are runs of letters, digits and underscores, or single punctuation marks; a sentence ends after ., ! or ?
# (and any closing quotes or brackets) followed by white space, and at every line break. Simple and deterministic,
# so character spans map to words predictably; text input and the REBEL conversion both split text this way.
WORD_PATTERN = re.compile(r"\w+|[^\w\s]")
SENTENCE_END = re.compile(r"[.!?][\"'\u2019\u201d)\]]*(?=\s)|\n+")


def entity_type(entity: list[dict]) -> str:
    """An entity's type: that of its first mention (the mentions of an entity almost always agree; when they
    do not, the first decides, everywhere in GlobalRE)."""
    return str(entity[0].get("type", "")) if entity else ""


class DocumentError(ValueError):
    """A document or one of its entities cannot be encoded; the message names the document and the item."""


def document_label(document: dict, index: int | None = None) -> str:
    """How errors and reports name a document: its index and its title where it has them."""
    title = document.get("title") if isinstance(document, dict) else None
    parts = []
    if index is not None:
        parts.append(f"#{index}")
    if title:
        parts.append(repr(title))
    return "document " + " ".join(parts) if parts else "document"


# --------------------------------------------------------------------------------------------------------------
# Documents in text form -> DocRED form
# --------------------------------------------------------------------------------------------------------------


def split_words(
    text: str, protected: Sequence[tuple[int, int]] = ()
) -> tuple[list[list[str]], list[list[tuple[int, int]]]]:
    """Splits text into sentences of words (`WORD_PATTERN`, `SENTENCE_END`), with each word's character span
    `[start, end)`. A sentence end inside a `protected` span (an entity mention such as "U.S. Army" or
    "St. Louis") is not a sentence end."""
    breaks = [
        match.end()
        for match in SENTENCE_END.finditer(text)
        if not any(start < match.start() < end for start, end in protected)
    ]
    by_sentence: dict[int, tuple[list[str], list[tuple[int, int]]]] = {}
    for match in WORD_PATTERN.finditer(text):
        words, spans = by_sentence.setdefault(bisect.bisect_right(breaks, match.start()), ([], []))
        words.append(match.group())
        spans.append((match.start(), match.end()))
    sentences = [by_sentence[key][0] for key in sorted(by_sentence)]
    offsets = [by_sentence[key][1] for key in sorted(by_sentence)]
    return sentences, offsets


def _find_occurrences(text: str, name: str) -> tuple[list[tuple[int, int]], bool]:
    """Character spans of every whole-word occurrence of `name`, and whether they were found ignoring case
    (only when an exact search finds none)."""
    escaped = re.escape(name.strip())
    if not escaped:
        return [], False
    for flags in (0, re.IGNORECASE):
        pattern = re.compile(rf"(?<!\w){escaped}(?!\w)", flags)
        spans = [(m.start(), m.end()) for m in pattern.finditer(text)]
        if spans:
            return spans, bool(flags)
    return [], False


def _normalized(text: str) -> str:
    """A name as names are compared: white space collapsed, case folded."""
    return " ".join(text.split()).casefold()


def text_to_docred(document: dict, index: int | None = None) -> dict:
    """Converts `{"text": ..., "entities": [...]}` into DocRED form (`sents`, `vertexSet`).

    An entity is a name, or a dict with `name`, optional `type`, and either `spans` or optional `mentions`:
    - a name (and each of `mentions`) matches every whole-word occurrence in the text (`"Oslo"` matches in
      `"Oslo-based"`, whose hyphen is a word of its own, but not in `"Oslovian"`); exact case first, and only when
      the exact name never occurs, ignoring case, with a warning;
    - `spans` are character offsets `[start, end)` into `text`, each covering the entity's name or one of its
      `mentions` (white space and case aside); a span that starts or ends inside a word takes the whole word,
      with a warning.
    Errors (`DocumentError`, naming the document and the entity): a name that does not occur, a span outside the
    text or covering other text (token indices given by mistake), two entities with the same mentions.
    """
    label = document_label(document, index)
    text = document.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DocumentError(f"{label}: 'text' is empty; expected the document's text as a non-empty string.")
    entities = document.get("entities")
    if not isinstance(entities, list):
        raise DocumentError(f"{label}: 'entities' must be a list of names or of dicts with a 'name'.")
    # every entity's character spans first: sentences must not split a mention
    entity_spans: list[tuple[str, str, list[tuple[int, int]]]] = []
    for entity_index, entity in enumerate(entities):
        if isinstance(entity, str):
            entity = {"name": entity}
        if not isinstance(entity, dict) or not isinstance(entity.get("name"), str):
            raise DocumentError(
                f"{label}, entity {entity_index}: expected a name or a dict with 'name'; got {entity!r}."
            )
        entity_label = f"entity {entity_index} ({entity['name']!r})"
        mentions = entity.get("mentions", [])
        names = [entity["name"], *(mentions if isinstance(mentions, list) else [mentions])]
        if not isinstance(mentions, list) or not all(isinstance(name, str) for name in names):
            raise DocumentError(
                f"{label}, {entity_label}: 'mentions' must be a list of strings; got {names[1:]!r}."
            )
        if "spans" in entity and not (isinstance(entity["spans"], list) and entity["spans"]):
            raise DocumentError(
                f"{label}, {entity_label}: 'spans' must be a non-empty list of [start, end) character offsets."
            )
        if "spans" in entity:
            spans = []
            for span in entity["spans"]:
                if not (
                    isinstance(span, (list, tuple))
                    and len(span) == 2
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in span)
                ):
                    raise DocumentError(
                        f"{label}, {entity_label}: span {span!r} is not [start, end) of two integers."
                    )
                start, end = span
                if not 0 <= start < end <= len(text):
                    raise DocumentError(
                        f"{label}, {entity_label}: span [{start}, {end}) is outside the text "
                        f"(length {len(text)}); expected 0 <= start < end <= {len(text)}."
                    )
                if _normalized(text[start:end]) not in {_normalized(name) for name in names}:
                    raise DocumentError(
                        f"{label}, {entity_label}: span [{start}, {end}) covers {text[start:end]!r}, which is neither "
                        "the entity's name nor one of its 'mentions'; spans are character offsets [start, end) into "
                        "'text' (not token indices): give the offsets of the name, or list that text in 'mentions'."
                    )
                spans.append((start, end))
            spans = sorted(set(spans))
        else:
            found = set()
            for name in names:
                occurrences, ignoring_case = _find_occurrences(text, name)
                if ignoring_case:
                    logger.warning(
                        "%s, %s: %r does not occur as written; matched ignoring case: %s",
                        label,
                        entity_label,
                        name,
                        ", ".join(repr(text[a:b]) for a, b in occurrences[:3]),
                    )
                found.update(occurrences)
            # "Curie" inside "Marie Curie" is the same mention, not a second one
            spans = sorted(
                s for s in found if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in found)
            )
            if not spans:
                raise DocumentError(
                    f"{label}, {entity_label}: the name does not occur in the text; give character 'spans' "
                    "or a name that appears verbatim."
                )
        entity_spans.append((entity_label, str(entity.get("type", "")), spans))
    same = {}
    for entity_label, _, spans in entity_spans:
        if tuple(spans) in same:
            raise DocumentError(
                f"{label}: {same[tuple(spans)]} and {entity_label} have the same mentions ("
                + ", ".join(repr(text[a:b]) for a, b in spans[:3])
                + "); list an entity once, or give each its own spans."
            )
        same[tuple(spans)] = entity_label

    sentences, offsets = split_words(text, [span for _, _, spans in entity_spans for span in spans])
    word_starts = [
        (sent_id, pos, span) for sent_id, spans in enumerate(offsets) for pos, span in enumerate(spans)
    ]
    starts = [span[0] for _, _, span in word_starts]

    def words_of(char_start: int, char_end: int, entity_label: str) -> dict:
        first = max(bisect.bisect_right(starts, char_start) - 1, 0)
        covered = [w for w in word_starts[first:] if w[2][0] < char_end and w[2][1] > char_start]
        if not covered:
            raise DocumentError(f"{label}, {entity_label}: span [{char_start}, {char_end}) covers no word.")
        begin, finish = covered[0][2][0], covered[-1][2][1]
        if (begin, finish) != (char_start, char_end) and text[begin:finish].strip() != text[
            char_start:char_end
        ].strip():
            logger.warning(
                "%s, %s: span [%d, %d) %r starts or ends inside a word; it takes the whole word(s): %r",
                label,
                entity_label,
                char_start,
                char_end,
                text[char_start:char_end],
                text[begin:finish],
            )
        return {
            "name": text[begin:finish],
            "sent_id": covered[0][0],
            "pos": [covered[0][1], covered[-1][1] + 1],
            "char_span": [begin, finish],
        }

    vertex_set = [
        [{**words_of(start, end, entity_label), "type": entity_type} for start, end in spans]
        for entity_label, entity_type, spans in entity_spans
    ]
    return {"title": document.get("title", ""), "sents": sentences, "vertexSet": vertex_set}


def as_docred(document: Any, index: int | None = None) -> dict:
    """Returns the document in DocRED form, converting text form; raises `DocumentError` for anything else."""
    if not isinstance(document, dict):
        raise DocumentError(
            f"{document_label({}, index)}: expected a dict in DocRED form (sents, vertexSet) or text form "
            f"(text, entities); got {type(document).__name__}."
        )
    if "sents" in document and "vertexSet" in document:
        return document
    if "text" in document:
        return text_to_docred(document, index)
    raise DocumentError(
        f"{document_label(document, index)}: expected keys 'sents' and 'vertexSet' (DocRED form) or 'text' and "
        f"'entities' (text form); got {sorted(document)}."
    )


__all__ = [
    "SENTENCE_END",
    "WORD_PATTERN",
    "DocumentError",
    "as_docred",
    "document_label",
    "entity_type",
    "split_words",
    "text_to_docred",
]
