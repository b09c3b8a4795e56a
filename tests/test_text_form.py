"""The text form (`{"text", "entities"}`, documents_globalre.text_to_docred) in scripts without spaces between
words, with names inside other entities' names, and with names written differently in the text; and DocRED-form
mentions whose `name` is not the words at their `pos`. Every text is invented. No model: milliseconds."""

from __future__ import annotations

import logging
import unicodedata

import pytest

from documents_globalre import (
    DocumentError,
    as_docred,
    mention_name_disagreements,
    split_words,
    text_to_docred,
)


def mentions(converted: dict) -> list[list[tuple[str, int, list[int]]]]:
    return [[(m["name"], m["sent_id"], m["pos"]) for m in entity] for entity in converted["vertexSet"]]


# ---------------------------------------------------------------------------------------------------------------
# Scripts that do not separate words with spaces
# ---------------------------------------------------------------------------------------------------------------


def test_japanese_text_is_split_into_characters_and_sentences_end_at_the_full_stop():
    text = "北川一郎は青葉大学で教えた。彼は後に港町銀行に入った！青葉大学は古い？はい。"
    converted = text_to_docred(
        {"title": "青葉", "text": text, "entities": ["北川一郎", "青葉大学", "港町銀行"]}
    )
    assert [len(sentence) for sentence in converted["sents"]] == [14, 13, 8, 3]
    assert converted["sents"][0][:4] == ["北", "川", "一", "郎"]
    assert mentions(converted) == [
        [("北川一郎", 0, [0, 4])],
        [("青葉大学", 0, [5, 9]), ("青葉大学", 2, [0, 4])],
        [("港町銀行", 1, [4, 8])],
    ]
    for entity in converted["vertexSet"]:
        for mention in entity:
            start, end = mention["char_span"]
            assert text[start:end] == mention["name"]


def test_chinese_names_next_to_each_other_stay_two_entities():
    # no space between the names: before, they were found nowhere, or widened to the whole clause and shared it
    converted = text_to_docred(
        {
            "text": "林海峰与周明远在杭州相识。周明远后来去了南京。",
            "entities": ["林海峰", "周明远", "杭州", "南京"],
        }
    )
    assert mentions(converted) == [
        [("林海峰", 0, [0, 3])],
        [("周明远", 0, [4, 7]), ("周明远", 1, [0, 3])],
        [("杭州", 0, [8, 10])],
        [("南京", 1, [7, 9])],
    ]
    assert len(converted["sents"]) == 2


def test_japanese_with_latin_words_and_spans():
    text = "Kvarne社の本社は札幌にある。"
    converted = text_to_docred(
        {
            "text": text,
            "entities": [{"name": "Kvarne社", "type": "ORG"}, {"name": "札幌", "spans": [[11, 13]]}],
        }
    )
    assert converted["sents"] == [
        ["Kvarne", "社", "の", "本", "社", "は", "札", "幌", "に", "あ", "る", "。"]
    ]
    assert mentions(converted) == [[("Kvarne社", 0, [0, 2])], [("札幌", 0, [6, 8])]]


@pytest.mark.parametrize(
    "text, script",
    [
        ("สมชายทำงานที่กรุงเทพ", "Thai"),
        ("ສົມພອນອາໄສຢູ່ວຽງຈັນ", "Lao"),
        ("សុខាធ្វើការនៅភ្នំពេញ", "Khmer"),
        ("မောင်မောင်ရန်ကုန်မှာနေတယ်", "Myanmar"),
    ],
    ids=["Thai", "Lao", "Khmer", "Myanmar"],
)
def test_scripts_without_a_segmenter_are_refused_naming_the_script(text, script):
    with pytest.raises(
        DocumentError,
        match=rf"document #2 'unsegmented': the text is written in {script} script .* at character 0\), which does "
        r"not separate words with spaces, .* give the document in DocRED form",
    ):
        as_docred({"title": "unsegmented", "text": text, "entities": [text[:4]]}, 2)


def test_spans_that_widen_to_the_same_word_never_merge_two_entities():
    document = {
        "title": "one word",
        "text": "Kvarneby grew.",
        "entities": [
            {"name": "Kvarn", "mentions": ["Kvarneby"], "spans": [[0, 5]]},
            {"name": "eby", "mentions": ["Kvarneby"], "spans": [[5, 8]]},
        ],
    }
    with pytest.raises(
        DocumentError,
        match=r"document 'one word': entity 0 \('Kvarn'\) and entity 1 \('eby'\) would share the mention "
        r"'Kvarneby' \(sentence 0, words 0..0\)",
    ):
        text_to_docred(document)


def test_combining_marks_stay_in_their_word():
    # NFD "é" is "e" and a combining accent, which Python's \w does not match; Devanagari vowel signs likewise
    sentences, offsets = split_words("Ame\u0301lie visited नई दिल्ली.")
    assert sentences == [["Ame\u0301lie", "visited", "नई", "दिल्ली", "."]]
    assert offsets[0][0] == (0, 7)


# ---------------------------------------------------------------------------------------------------------------
# A name inside another entity's mention
# ---------------------------------------------------------------------------------------------------------------


def test_a_name_inside_a_longer_entity_mention_is_not_its_mention(caplog):
    text = "Lena Paris met Paris Hilton in New York. Paris is far from York."
    with caplog.at_level(logging.WARNING):
        converted = text_to_docred(
            {"title": "nested", "text": text, "entities": ["Paris Hilton", "Paris", "New York", "York"]}
        )
    assert mentions(converted) == [
        [("Paris Hilton", 0, [3, 5])],
        [("Paris", 0, [1, 2]), ("Paris", 1, [0, 1])],  # not the "Paris" of "Paris Hilton"
        [("New York", 0, [6, 8])],
        [("York", 1, [4, 5])],  # not the "York" of "New York"
    ]
    assert (
        "document 'nested', entity 1 ('Paris'): 1 occurrence(s) overlapping longer mentions of other entities are not "
        "its mentions: entity 0 ('Paris Hilton')'s 'Paris Hilton'" in caplog.text
    )
    assert "entity 3 ('York'): 1 occurrence(s) overlapping longer mentions" in caplog.text


def test_a_name_found_only_inside_a_longer_entity_mention_is_an_error():
    with pytest.raises(
        DocumentError,
        match=r"document 'only inside', entity 1 \('York'\): the name occurs only overlapping longer mentions "
        r"of other entities \(entity 0 \('New York'\)'s 'New York'\)",
    ):
        text_to_docred(
            {"title": "only inside", "text": "She moved to New York.", "entities": ["New York", "York"]}
        )


def test_spans_may_nest_but_found_names_that_cross_are_an_error():
    text = "Paris Hilton sang."
    converted = text_to_docred(
        {"text": text, "entities": ["Paris Hilton", {"name": "Paris", "type": "LOC", "spans": [[0, 5]]}]}
    )
    assert mentions(converted) == [[("Paris Hilton", 0, [0, 2])], [("Paris", 0, [0, 1])]]
    with pytest.raises(
        DocumentError,
        match=r"entity 0 \('Ash Oak'\) at 'Ash Oak' and entity 1 \('Oak Elm'\) at 'Oak Elm' overlap in the text and "
        r"neither is longer",
    ):
        text_to_docred({"text": "Ash Oak Elm is a lane.", "entities": ["Ash Oak", "Oak Elm"]})


# ---------------------------------------------------------------------------------------------------------------
# Names written differently in the text
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, name",
    [
        ("Nordvik\nShipping", "Nordvik Shipping"),  # a line break inside the name
        ("Nordvik  Shipping", "Nordvik Shipping"),  # two spaces
        ("Nordvik\u00a0Shipping", "Nordvik Shipping"),  # a no-break space
        ("O\u2019Brien Lines", "O'Brien Lines"),  # a typographic apostrophe in the text
        ("O'Brien Lines", "O\u2019Brien Lines"),  # ... or in the name
        ("Kv\u00e6rne\u2013Sund", "Kværne-Sund"),  # an en dash for the hyphen
        (unicodedata.normalize("NFD", "Société Brévin"), "Société Brévin"),  # NFD text, NFC name
        ("Société Brévin", unicodedata.normalize("NFD", "Société Brévin")),  # NFC text, NFD name
        ("Nord\u00advik Shipping", "Nordvik Shipping"),  # a soft hyphen
    ],
    ids=[
        "line-break",
        "two-spaces",
        "no-break-space",
        "apostrophe-in-text",
        "apostrophe-in-name",
        "en-dash",
        "nfd-text",
        "nfd-name",
        "soft-hyphen",
    ],
)
def test_names_written_differently_match_with_a_warning_and_keep_the_text_spans(written, name, caplog):
    text = f"In 1990 {written} bought a ship. Later {written} sold it."
    with caplog.at_level(logging.WARNING):
        converted = text_to_docred({"title": "forms", "text": text, "entities": [name, "ship"]})
    company = converted["vertexSet"][0]
    assert len(company) == 2
    for mention in company:
        start, end = mention["char_span"]
        assert text[start:end] == written == mention["name"]
    assert (
        f"document 'forms', entity 0 ({name!r}): {name!r} is written differently in the text" in caplog.text
    )
    assert len(converted["sents"]) == 2  # a line break inside a mention ends no sentence


def test_a_name_written_as_in_the_text_gives_no_warning(caplog):
    with caplog.at_level(logging.WARNING):
        text_to_docred(
            {"text": "O\u2019Brien Lines bought a ship.", "entities": ["O\u2019Brien Lines", "ship"]}
        )
    assert caplog.text == ""


def test_spans_compare_with_names_written_differently():
    text = "O\u2019Brien\nLines bought a ship."
    converted = text_to_docred(
        {"text": text, "entities": [{"name": "o'brien lines", "spans": [[0, 14]]}, "ship"]}
    )
    assert converted["vertexSet"][0][0]["name"] == "O\u2019Brien\nLines"


def test_a_name_that_does_not_occur_still_says_so():
    with pytest.raises(DocumentError, match=r"entity 1 \('Brevik'\): the name does not occur in the text"):
        text_to_docred({"text": "Brevika is a town near Oslo.", "entities": ["Oslo", "Brevik"]})


# ---------------------------------------------------------------------------------------------------------------
# DocRED form: a mention's name against the words at its position
# ---------------------------------------------------------------------------------------------------------------


def docred_document(title: str, second_name: str) -> dict:
    return {
        "title": title,
        "sents": [["Halvard", "Brune", "'s", "firm", "moved", "to", "the", "capital", "."]],
        "vertexSet": [
            [{"name": "Halvard Brune's", "sent_id": 0, "pos": [0, 3], "type": "PER"}],
            [{"name": second_name, "sent_id": 0, "pos": [6, 8], "type": "LOC"}],
        ],
    }


def test_a_mention_name_that_is_not_its_words_is_warned_about_once(caplog):
    document = docred_document("mismatch", "Paris")
    assert mention_name_disagreements(document) == [(1, 0, "Paris", "the capital")]
    with caplog.at_level(logging.WARNING):
        assert as_docred(document, 4) is document
        as_docred(document, 4)  # the processor converts a document more than once: one warning
    assert caplog.text.count("mention(s) whose 'name' is not the words") == 1
    assert (
        "document #4 'mismatch': 1 mention(s) whose 'name' is not the words at their 'pos' (the model reads the "
        "words in the text, the name as the entity's name): entity 1 mention 0: name 'Paris' but words "
        "'the capital'" in caplog.text
    )


def test_names_that_differ_from_their_words_only_in_spacing_case_or_quotes_are_not_warned_about(caplog):
    for name in ("the Capital", "the  capital", "thecapital", "THE CAPITAL"):
        document = docred_document(f"fine {name}", name)
        with caplog.at_level(logging.WARNING):
            as_docred(document)
        assert mention_name_disagreements(document) == []
    assert caplog.text == ""


def test_initials_titles_and_numbered_abbreviations_do_not_end_sentences():
    from documents_globalre import split_words

    text = (
        "William P. Carey met Dr. Smith in St. Louis. The U.S. Army sent Vol. 3 on Jan. 12 to him. "
        "He fought in World War II. Then he left in Dec. No. He stayed at Apple Inc. Later he left."
    )
    sentences = [" ".join(words) for words in split_words(text)[0]]
    assert sentences == [
        "William P . Carey met Dr . Smith in St . Louis .",
        "The U . S . Army sent Vol . 3 on Jan . 12 to him .",
        "He fought in World War II .",
        "Then he left in Dec .",
        "No .",
        "He stayed at Apple Inc .",
        "Later he left .",
    ]
