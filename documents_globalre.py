# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""Documents for GlobalRE: text form (`{"text", "entities"}`) converted to DocRED form (`{"title", "sents",
"vertexSet"}`), the word and sentence split both forms share, and how errors name a document and its entities.

Needs neither torch nor transformers, so that loading data (`docred_data`) stays light."""

from __future__ import annotations

import bisect
import logging
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger(__name__)

# Words are runs of letters, digits and underscores (with the combining marks that belong to them, as in NFD text
# or Devanagari), single punctuation marks, or single CJK characters: Chinese and Japanese do not separate words
# with spaces, and BERT's tokenizer splits CJK ideographs into characters anyway. A sentence ends after ., ! or ?
# (and any closing quotes or brackets) followed by white space, after 。！？ whatever follows, and at every line
# break. Simple and deterministic, so character spans map to words predictably; text input and the REBEL
# conversion both split text this way.
CJK_CHARACTERS = "\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
WORD_PATTERN = re.compile(rf"[{CJK_CHARACTERS}]|[^\W{CJK_CHARACTERS}]+|[^\w\s]")
SENTENCE_END = re.compile(
    r"[.!?][\"'\u2019\u201d)\]]*(?=\s)|[\u3002\uff01\uff1f\uff61][\"'\u2019\u201d)\]\u300d\u300f\uff09\u3011\u3015]*|\n+"
)
_CJK = re.compile(f"[{CJK_CHARACTERS}]")
# Scripts that write words without spaces between them and that no simple rule segments (Thai, Lao, Myanmar,
# Khmer): their text would become whole clauses as words, so the text form refuses them.
UNSEGMENTED_SCRIPTS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff\ua9e0-\ua9ff\uaa60-\uaa7f]"
)


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


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


# Zero-width spaces and byte order marks separate words and are no word themselves.
_ZERO_WIDTH_BREAKS = "\u200b\ufeff"


def _joins_words(char: str) -> bool:
    """Whether `char` belongs to the word around it: a combining mark, or an invisible format character such as a
    soft hyphen or a zero-width (non-)joiner."""
    category = unicodedata.category(char)
    return category.startswith("M") or (category == "Cf" and char not in _ZERO_WIDTH_BREAKS)


def _word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans `[start, end)` of the words of `text` (`WORD_PATTERN`), a combining mark (or soft hyphen,
    zero-width joiner) joined to the word before it and the letters after it: Python's `\\w` matches none of
    them, and NFD "Cafe\u0301", Devanagari and Persian words have them inside."""
    spans: list[tuple[int, int]] = []
    for match in WORD_PATTERN.finditer(text):
        start, end = match.span()
        if match.group() in _ZERO_WIDTH_BREAKS:
            continue
        if spans and spans[-1][1] == start:
            if _joins_words(text[start]) or (
                _joins_words(text[start - 1])
                and _is_word_character(text[start])
                and not _CJK.match(text, start)
            ):
                spans[-1] = (spans[-1][0], end)
                continue
        spans.append((start, end))
    return spans


def split_words(
    text: str, protected: Sequence[tuple[int, int]] = ()
) -> tuple[list[list[str]], list[list[tuple[int, int]]]]:
    """Splits text into sentences of words (`WORD_PATTERN`, `SENTENCE_END`), with each word's character span
    `[start, end)`. A sentence end inside a `protected` span (an entity mention such as "U.S. Army" or
    "St. Louis") is not a sentence end."""
    inside = _SpanIndex([((start, end), None) for start, end in protected])
    breaks = [
        match.end()
        for match in SENTENCE_END.finditer(text)
        if not any(
            start < match.start() for (start, _), _ in inside.overlapping((match.start(), match.start() + 1))
        )
    ]
    by_sentence: dict[int, tuple[list[str], list[tuple[int, int]]]] = {}
    for start, end in _word_spans(text):
        words, spans = by_sentence.setdefault(bisect.bisect_right(breaks, start), ([], []))
        words.append(text[start:end])
        spans.append((start, end))
    sentences = [by_sentence[key][0] for key in sorted(by_sentence)]
    offsets = [by_sentence[key][1] for key in sorted(by_sentence)]
    return sentences, offsets


# Apostrophes, quotation marks and dashes as names are searched: a name typed with ' matches ’ in the text.
_SEARCH_FORMS = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u02bc\u2032\u00b4`", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"),
    }
)


def search_view(text: str) -> tuple[str, list[int], list[int]]:
    """Text as names are searched in it, with the original `[start, end)` of each character.

    Each character with its combining marks is brought to Unicode NFKC (so NFD "é" and NFC "é" are one form),
    apostrophes, quotation marks and dashes to their ASCII form, every run of white space to one space, and
    zero-width format characters (category Cf: soft hyphens, zero-width spaces) are left out."""
    view: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < len(text):
        char = text[i]
        j = i + 1
        if char.isspace():
            while j < len(text) and text[j].isspace():
                j += 1
            if view and view[-1] == " ":  # white space on both sides of a left-out character: one space
                ends[-1] = j
                i = j
                continue
            pieces = " "
        else:
            while j < len(text) and text[j] >= "\u0300" and _is_mark(text[j]):
                j += 1
            if char < "\x80" and j == i + 1:
                pieces = char
            elif unicodedata.category(char) == "Cf" and j == i + 1:
                i = j
                continue
            else:
                pieces = unicodedata.normalize("NFKC", text[i:j]).translate(_SEARCH_FORMS)
        for piece in pieces:
            view.append(piece)
            starts.append(i)
            ends.append(j)
        i = j
    return "".join(view), starts, ends


def _comparable(text: str) -> str:
    """A name as names are compared: as searched (`search_view`), white space collapsed, case folded."""
    return " ".join(search_view(text)[0].split()).casefold()


def _is_word_character(char: str) -> bool:
    return char.isalnum() or char == "_" or _is_mark(char)


def _whole_words(view: str, start: int, end: int) -> bool:
    """Whether `view[start:end]` starts and ends at word boundaries (a CJK character is a word of its own)."""
    before = view[start - 1] if start > 0 else " "
    after = view[end] if end < len(view) else " "
    return (not _is_word_character(before) or bool(_CJK.match(before)) or bool(_CJK.match(view[start]))) and (
        not _is_word_character(after) or bool(_CJK.match(after)) or bool(_CJK.match(view[end - 1]))
    )


def _find_occurrences(
    view: tuple[str, list[int], list[int]], name: str
) -> tuple[list[tuple[int, int]], bool]:
    """Character spans (into the original text) of every whole-word occurrence of `name` in a text's
    `search_view`, and whether they were found ignoring case (only when no occurrence matches with case)."""
    text, starts, ends = view
    wanted = search_view(name)[0].strip()
    wanted = " ".join(wanted.split())
    if not wanted:
        return [], False
    for flags in (0, re.IGNORECASE):
        pattern = re.compile(re.escape(wanted), flags)
        spans = [
            (starts[m.start()], ends[m.end() - 1])
            for m in pattern.finditer(text)
            if _whole_words(text, m.start(), m.end())
        ]
        if spans:
            return spans, bool(flags)
    return [], False


class _SpanIndex:
    """Character spans `[start, end)` with a value each, for finding those that overlap a span without comparing
    every pair (a 20,000-word text may have thousands of mentions)."""

    def __init__(self, items: Sequence[tuple[tuple[int, int], Any]]):
        self.items = sorted(items, key=lambda item: item[0])
        self.starts = [span[0] for span, _ in self.items]
        self.longest = max((span[1] - span[0] for span, _ in self.items), default=0)

    def overlapping(self, span: tuple[int, int]) -> list[tuple[tuple[int, int], Any]]:
        first = bisect.bisect_right(self.starts, span[0] - self.longest)
        last = bisect.bisect_left(self.starts, span[1])
        return [(other, value) for other, value in self.items[first:last] if other[1] > span[0]]


def _refuse_unsegmented_scripts(text: str, label: str) -> None:
    match = UNSEGMENTED_SCRIPTS.search(text)
    if match:
        char = match.group()
        script = unicodedata.name(char, f"U+{ord(char):04X}").split()[0].title()
        raise DocumentError(
            f"{label}: the text is written in {script} script ({char!r} at character {match.start()}), which does "
            "not separate words with spaces, and the text form has no word segmenter for it; split the text into "
            "words yourself and give the document in DocRED form ('sents' as lists of words, 'vertexSet' with "
            "word positions)."
        )


def text_to_docred(document: dict, index: int | None = None) -> dict:
    """Converts `{"text": ..., "entities": [...]}` into DocRED form (`sents`, `vertexSet`).

    An entity is a name, or a dict with `name`, optional `type`, and either `spans` or optional `mentions`:
    - a name (and each of `mentions`) matches every whole-word occurrence in the text (`"Oslo"` matches in
      `"Oslo-based"`, whose hyphen is a word of its own, but not in `"Oslovian"`); exact case first, and only when
      the exact name never occurs, ignoring case, with a warning. Names are searched with white space, quotes,
      apostrophes, dashes and Unicode forms normalized (`search_view`): "New\\nYork", "O’Neill" and NFD "Café"
      match the names "New York", "O'Neill" and NFC "Café", with a warning; the mentions keep the text's spans;
    - an occurrence that overlaps a longer mention of another entity is not a mention ("York" inside
      "New York"), as NER reads it, with a warning;
    - `spans` are character offsets `[start, end)` into `text`, each covering the entity's name or one of its
      `mentions` (white space, quotes, Unicode form and case aside); a span that starts or ends inside a word
      takes the whole word, with a warning. Spans are taken as given: entities may nest.
    Words: runs of letters and digits, single punctuation marks, single CJK characters (Chinese and Japanese);
    sentences end at . ! ? before white space, at 。！？ and at line breaks (`split_words`).
    Errors (`DocumentError`, naming the document and the entity): text in Thai, Lao, Myanmar or Khmer script
    (words without spaces, no segmenter), a name that does not occur (or only inside a longer entity's
    mentions), a span outside the text or covering other text (token indices given by mistake), two entities
    with the same mentions, or one mention (the same words) shared by two entities.
    """
    label = document_label(document, index)
    text = document.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DocumentError(f"{label}: 'text' is empty; expected the document's text as a non-empty string.")
    entities = document.get("entities")
    if not isinstance(entities, list):
        raise DocumentError(f"{label}: 'entities' must be a list of names or of dicts with a 'name'.")
    _refuse_unsegmented_scripts(text, label)
    view = search_view(text)
    # every entity's character spans first: sentences must not split a mention
    entity_spans: list[tuple[str, str, list[tuple[int, int]], bool]] = []
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
                if _comparable(text[start:end]) not in {_comparable(name) for name in names}:
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
                occurrences, ignoring_case = _find_occurrences(view, name)
                if ignoring_case:
                    logger.warning(
                        "%s, %s: %r does not occur as written; matched ignoring case: %s",
                        label,
                        entity_label,
                        name,
                        ", ".join(repr(text[a:b]) for a, b in occurrences[:3]),
                    )
                elif any(text[a:b] != name.strip() for a, b in occurrences):
                    logger.warning(
                        "%s, %s: %r is written differently in the text (white space, apostrophes, quotes, dashes "
                        "or Unicode form); matched: %s",
                        label,
                        entity_label,
                        name,
                        ", ".join(repr(text[a:b]) for a, b in occurrences if text[a:b] != name.strip()),
                    )
                found.update(occurrences)
            # "Curie" inside "Marie Curie" is the same mention, not a second one
            found_index = _SpanIndex([(span, None) for span in found])
            spans = sorted(
                s
                for s in found
                if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o, _ in found_index.overlapping(s))
            )
            if not spans:
                raise DocumentError(
                    f"{label}, {entity_label}: the name does not occur in the text (as a whole word, white space, "
                    "quotes and case aside); give character 'spans' or a name that appears in the text."
                )
        entity_spans.append((entity_label, str(entity.get("type", "")), spans, "spans" in entity))
    entity_spans = _without_occurrences_inside_longer_mentions(entity_spans, text, label)
    same = {}
    for entity_label, _, spans, _ in entity_spans:
        if tuple(spans) in same:
            raise DocumentError(
                f"{label}: {same[tuple(spans)]} and {entity_label} have the same mentions ("
                + ", ".join(repr(text[a:b]) for a, b in spans[:3])
                + "); list an entity once, or give each its own spans."
            )
        same[tuple(spans)] = entity_label

    sentences, offsets = split_words(text, [span for _, _, spans, _ in entity_spans for span in spans])
    word_starts = [
        (sent_id, pos, span) for sent_id, spans in enumerate(offsets) for pos, span in enumerate(spans)
    ]
    starts = [span[0] for _, _, span in word_starts]

    def words_of(char_start: int, char_end: int, entity_label: str) -> dict:
        first = max(bisect.bisect_right(starts, char_start) - 1, 0)
        last = bisect.bisect_left(starts, char_end)
        covered = [w for w in word_starts[first:last] if w[2][1] > char_start]
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

    vertex_set = []
    owner: dict[tuple[int, int, int], str] = {}  # (sent_id, start, end) -> the entity that has these words
    for entity_label, entity_type_, spans, _ in entity_spans:
        entity_mentions = []
        for start, end in spans:
            mention = {**words_of(start, end, entity_label), "type": entity_type_}
            key = (mention["sent_id"], *mention["pos"])
            if key in owner and owner[key] != entity_label:
                raise DocumentError(
                    f"{label}: {owner[key]} and {entity_label} would share the mention {mention['name']!r} "
                    f"(sentence {key[0]}, words {key[1]}..{key[2] - 1}): mentions are whole words, and two "
                    "entities cannot be one mention; give each entity a name or spans of its own words."
                )
            if key not in owner:  # two spans of one entity inside the same words are one mention
                owner[key] = entity_label
                entity_mentions.append(mention)
        vertex_set.append(entity_mentions)
    return {"title": document.get("title", ""), "sents": sentences, "vertexSet": vertex_set}


def docred_to_text(document: dict, index: int | None = None) -> tuple[str, list[dict]]:
    """A DocRED-form document as raw text with its entities in the text form, so that entity detection trains and
    is measured on the input it reads at inference.

    The text is the document's words joined by single spaces, sentences too (DocRED keeps no original spacing).
    The entities come in `vertexSet` order, each `{"name", "type", "spans", "mentions", "mention_types"}`:
    `spans` holds one character span `[start, end)` per mention, in the vertexSet's mention order, covering
    exactly the mention's words (`text[start:end] == " ".join(words)`); `name` is the first mention's words and
    `mentions` the other distinct mention texts, so `text_to_docred({"text": text, "entities": entities})`
    accepts the result; `type` is the entity's type (`entity_type`: its first mention's) and `mention_types` each
    mention's own type, beside `spans`.

    Raises `DocumentError` naming the document (and the entity and mention) when `sents` is not a list of lists
    of words, or a mention's `sent_id`/`pos` does not point at words of its sentence.
    """
    label = document_label(document, index)
    sentences = document.get("sents") if isinstance(document, dict) else None
    vertex_set = document.get("vertexSet") if isinstance(document, dict) else None
    if not isinstance(sentences, list) or not all(
        isinstance(sentence, list) and all(isinstance(word, str) for word in sentence)
        for sentence in sentences
    ):
        raise DocumentError(f"{label}: 'sents' must be a list of sentences, each a list of words (strings).")
    if not isinstance(vertex_set, list):
        raise DocumentError(f"{label}: 'vertexSet' must be a list of entities, each a list of mentions.")
    word_spans: list[list[tuple[int, int]]] = []
    pieces: list[str] = []
    position = 0
    for sentence in sentences:
        spans = []
        for word in sentence:
            if pieces:
                pieces.append(" ")
                position += 1
            pieces.append(word)
            spans.append((position, position + len(word)))
            position += len(word)
        word_spans.append(spans)
    text = "".join(pieces)
    entities = []
    for entity_index, entity in enumerate(vertex_set):
        if not isinstance(entity, list) or not entity:
            raise DocumentError(f"{label}, entity {entity_index}: expected a non-empty list of mentions.")
        spans, texts, types = [], [], []
        for mention_index, mention in enumerate(entity):
            where = f"{label}, entity {entity_index} mention {mention_index}"
            sent_id = mention.get("sent_id") if isinstance(mention, dict) else None
            pos = mention.get("pos") if isinstance(mention, dict) else None
            valid = (
                isinstance(sent_id, int)
                and 0 <= sent_id < len(sentences)
                and isinstance(pos, (list, tuple))
                and len(pos) == 2
                and all(isinstance(p, int) for p in pos)
                and 0 <= pos[0] < pos[1] <= len(sentences[sent_id])
            )
            if not valid:
                raise DocumentError(
                    f"{where}: 'sent_id' {sent_id!r} and 'pos' {pos!r} do not name words of a sentence; expected "
                    "a sentence index and [start, end) word positions inside it."
                )
            start, end = word_spans[sent_id][pos[0]][0], word_spans[sent_id][pos[1] - 1][1]
            if start == end:
                raise DocumentError(f"{where}: the mention's words are empty strings.")
            spans.append([start, end])
            texts.append(text[start:end])
            types.append(str(mention.get("type", "")))
        entities.append(
            {
                "name": texts[0],
                "type": entity_type(entity),
                "spans": spans,
                "mentions": [t for t in dict.fromkeys(texts) if t != texts[0]],
                "mention_types": types,
            }
        )
    return text, entities


def _without_occurrences_inside_longer_mentions(
    entity_spans: list[tuple[str, str, list[tuple[int, int]], bool]], text: str, label: str
) -> list[tuple[str, str, list[tuple[int, int]], bool]]:
    """Drops the found occurrences (not given `spans`) of a name that overlap a longer mention of another
    entity ("York" inside "New York", "Paris" inside "Paris Hilton"), with a warning; a name found only there is
    an error, and so are two found names that overlap with neither longer (which entity the words are is open)."""
    every_span = _SpanIndex(
        [
            (span, (index, entity_label))
            for index, (entity_label, _, spans, _) in enumerate(entity_spans)
            for span in spans
        ]
    )
    kept = []
    for index, (entity_label, type_, spans, given) in enumerate(entity_spans):
        if given:
            kept.append((entity_label, type_, spans, given))
            continue
        inside: list[tuple[tuple[int, int], str]] = []
        remaining = []
        for span in spans:
            longer = next(
                (
                    (other_label, other)
                    for other, (other_index, other_label) in every_span.overlapping(span)
                    if other_index != index and other[1] - other[0] > span[1] - span[0]
                ),
                None,
            )
            if longer is None:
                remaining.append(span)
            else:
                inside.append((span, f"{longer[0]}'s {text[longer[1][0] : longer[1][1]]!r}"))
        if inside and not remaining:
            raise DocumentError(
                f"{label}, {entity_label}: the name occurs only overlapping longer mentions of other entities ("
                + "; ".join(where for _, where in inside[:3])
                + "), which are not mentions of it; give character 'spans' to mean those words."
            )
        if inside:
            logger.warning(
                "%s, %s: %d occurrence(s) overlapping longer mentions of other entities are not its mentions: %s",
                label,
                entity_label,
                len(inside),
                "; ".join(where for _, where in inside[:3]),
            )
        kept.append((entity_label, type_, remaining, given))
    found_spans = _SpanIndex(
        [
            (span, (index, entity_label))
            for index, (entity_label, _, spans, given) in enumerate(kept)
            if not given
            for span in spans
        ]
    )
    for index, (entity_label, _, spans, given) in enumerate(kept):
        if given:
            continue  # a span given by the user is deliberate: nested entities are allowed
        for span in spans:
            for other, (other_index, other_label) in found_spans.overlapping(span):
                if other_index != index and other != span:
                    raise DocumentError(
                        f"{label}: {entity_label} at {text[span[0] : span[1]]!r} and {other_label} at "
                        f"{text[other[0] : other[1]]!r} overlap in the text and neither is longer; give "
                        "character 'spans' to say which words are which entity."
                    )
    return kept


# --------------------------------------------------------------------------------------------------------------
# Documents in DocRED form: mention names against the words at their positions
# --------------------------------------------------------------------------------------------------------------


def _compact(text: str) -> str:
    """A mention as its name and words are compared: as searched, without any white space, case folded (DocRED
    and Re-DocRED write "People's" over the words "People 's" and "15%" over "15 %")."""
    return "".join(search_view(text)[0].split()).casefold()


def mention_name_disagreements(document: dict) -> list[tuple[int, int, str, str]]:
    """`(entity, mention, name, words)` for each mention of a DocRED-form document whose `name` is not the words
    at its `sent_id` and `pos` (compared without white space, case, quote and Unicode differences; a mention
    without a name, or whose position is malformed, is left to the validators that check positions).
    Re-DocRED's dev and test files have 3 of about 13,000 each (a list number before the name, "7.\\n100 years")."""
    found = []
    sentences = document.get("sents")
    vertex_set = document.get("vertexSet")
    if not isinstance(sentences, list) or not isinstance(vertex_set, list):
        return found
    for entity_index, entity in enumerate(vertex_set):
        for mention_index, mention in enumerate(entity if isinstance(entity, list) else []):
            if not isinstance(mention, dict):
                continue
            name, sent_id, pos = mention.get("name"), mention.get("sent_id"), mention.get("pos")
            try:
                words = sentences[sent_id][pos[0] : pos[1]] if 0 <= sent_id and 0 <= pos[0] < pos[1] else None
                words = " ".join(words) if words and all(isinstance(word, str) for word in words) else None
            except (TypeError, IndexError, KeyError):
                words = None
            if not isinstance(name, str) or not name.strip() or words is None:
                continue
            if name == words or name.replace(" ", "") == words.replace(" ", ""):
                continue  # the common case, without building search views
            if _compact(name) != _compact(words):
                found.append((entity_index, mention_index, name, words))
    return found


def describe_disagreement(entity_index: int, mention_index: int, name: str, words: str) -> str:
    return f"entity {entity_index} mention {mention_index}: name {name!r} but words {words!r}"


_WARNED_DISAGREEMENTS: set[tuple] = set()  # each document's disagreements are warned about once per process


def as_docred(document: Any, index: int | None = None) -> dict:
    """Returns the document in DocRED form, converting text form; raises `DocumentError` for anything else."""
    if not isinstance(document, dict):
        raise DocumentError(
            f"{document_label({}, index)}: expected a dict in DocRED form (sents, vertexSet) or text form "
            f"(text, entities); got {type(document).__name__}."
        )
    if "sents" in document and "vertexSet" in document:
        _warn_about_mention_names(document, index)
        return document
    if "text" in document:
        return text_to_docred(document, index)
    raise DocumentError(
        f"{document_label(document, index)}: expected keys 'sents' and 'vertexSet' (DocRED form) or 'text' and "
        f"'entities' (text form); got {sorted(document)}."
    )


def _warn_about_mention_names(document: dict, index: int | None) -> None:
    """Warns (once per document and process) about mentions whose `name` is not the words at their `pos`: the
    model reads the words, and reports show the name, so one of them is not what the user meant."""
    disagreements = mention_name_disagreements(document)
    if not disagreements:
        return
    key = (str(document.get("title")), tuple(disagreements))
    if key in _WARNED_DISAGREEMENTS:
        return
    if len(_WARNED_DISAGREEMENTS) > 10_000:
        _WARNED_DISAGREEMENTS.clear()
    _WARNED_DISAGREEMENTS.add(key)
    logger.warning(
        "%s: %d mention(s) whose 'name' is not the words at their 'pos' (the model reads the words in the text, the name as the entity's name): %s",
        document_label(document, index),
        len(disagreements),
        "; ".join(describe_disagreement(*d) for d in disagreements[:3]),
    )


__all__ = [
    "CJK_CHARACTERS",
    "SENTENCE_END",
    "UNSEGMENTED_SCRIPTS",
    "WORD_PATTERN",
    "DocumentError",
    "as_docred",
    "document_label",
    "describe_disagreement",
    "docred_to_text",
    "entity_type",
    "mention_name_disagreements",
    "search_view",
    "split_words",
    "text_to_docred",
]
