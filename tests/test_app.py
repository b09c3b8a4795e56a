"""The Gradio demo (app.py): its functions on a tiny random model, and the served page in headless Chromium.

Without gradio, selenium or Chromium these tests skip, saying what is missing; under CI=true they fail instead,
since CI installs all three (.ci/run).
"""

from __future__ import annotations

import html
import os
import time
from types import SimpleNamespace

import pytest

from tests.browser import CHROMEDRIVER, CHROMIUM, demo_in_chromium
from tests.helpers import EVIDENCE_MODEL_SETTINGS, make_tiny_model_dir

IN_CI = os.environ.get("CI", "").lower() == "true"
# Random weights score every relation near 0.5: a low threshold over two relations keeps a table and a graph of a
# known shape (every ordered pair, two relations each) without thousands of rows.
RELATIONS = ["P17", "P131"]
THRESHOLD = 0.01


def require(available: bool, reason: str) -> None:
    """Skips with `reason` when something optional is missing, except under CI=true, where it fails."""
    if available:
        return
    if IN_CI:
        pytest.fail(
            f"{reason}; CI=true, where the demo's tests must run (.ci/run installs it)", pytrace=False
        )
    pytest.skip(reason, allow_module_level=True)


try:
    import gradio  # noqa: F401
except ImportError:
    require(False, 'gradio is not installed (pip install -e ".[demo]")')

import app  # noqa: E402

ENTITIES = app.parse_entities(app.EXAMPLE_ENTITIES)
PAIRS = len(ENTITIES) * (len(ENTITIES) - 1)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("demo") / "model")


@pytest.fixture(scope="module")
def extractor(model_dir):
    return app.load_extractor(model_dir)


def test_parse_entities():
    assert app.parse_entities(
        "Marie Curie\n\n Warsaw | LOC \nParis | LOC | Paris city; the capital\nX |  | Y"
    ) == [
        "Marie Curie",
        {"name": "Warsaw", "type": "LOC"},
        {"name": "Paris", "type": "LOC", "mentions": ["Paris city", "the capital"]},
        {"name": "X", "mentions": ["Y"]},
    ]
    for bad in ["a | b | c | d", " | LOC"]:
        with pytest.raises(ValueError, match="Entity line 1"):
            app.parse_entities(bad)


def test_a_model_that_predicts_evidence_shows_it_in_the_table(tmp_path):
    """A model trained with the evidence loss adds a column: each pair's evidence sentences, numbered from 1 as
    the sentence column is; a model without it keeps the five columns."""
    evidence_dir = make_tiny_model_dir(
        tmp_path / "evidence",
        seed=3,
        **EVIDENCE_MODEL_SETTINGS,
        evidence_loss_weight=0.1,
        evidence_threshold=0.05,
    )
    extractor = app.load_extractor(evidence_dir)
    assert app.predicts_evidence(extractor)
    _, rows, _, _ = app.analyse(
        extractor, app.EXAMPLE_TEXT, app.EXAMPLE_ENTITIES, threshold=THRESHOLD, relations=RELATIONS
    )
    triples = extractor(
        {"text": app.EXAMPLE_TEXT, "entities": ENTITIES}, threshold=THRESHOLD, relations=RELATIONS
    )
    assert rows and all(len(row) == 6 for row in rows)
    expected = sorted(", ".join(str(s + 1) for s in t["evidence"]) or "none" for t in triples)
    assert sorted(row[5] for row in rows) == expected
    assert any(row[5] != "none" for row in rows)
    plain = app.table_rows(triples)
    assert all(len(row) == 5 for row in plain)


def test_resolve_model(monkeypatch, tmp_path):
    monkeypatch.setenv("GLOBALRE_MODEL", "org/from-env")
    assert app.resolve_model("given") == "given"
    assert app.resolve_model() == "org/from-env"
    monkeypatch.delenv("GLOBALRE_MODEL")
    monkeypatch.setattr(app, "DEFAULT_MODEL", tmp_path / "absent")
    assert app.resolve_model() is None
    monkeypatch.setattr(app, "DEFAULT_MODEL", tmp_path)
    assert app.resolve_model() == str(tmp_path)


def test_analyse_structure(extractor):
    steps = []
    text_html, rows, graph, summary = app.analyse(
        extractor,
        app.EXAMPLE_TEXT,
        app.EXAMPLE_ENTITIES,
        threshold=THRESHOLD,
        relations=RELATIONS,
        progress=lambda done, total: steps.append((done, total)),
    )
    assert steps[-1] == (PAIRS, PAIRS)
    # every entity's mentions are marked, each a span of the text, coloured by type
    assert text_html.count('<mark class="globalre-mention"') == sum(
        app.EXAMPLE_TEXT.count(app.entity_name(entity)) for entity in ENTITIES
    )
    assert all(f'data-entity="{index}"' in text_html for index in range(len(ENTITIES)))
    # with a threshold near 0 both relations of every ordered pair are kept
    assert len(rows) == 2 * PAIRS
    names = {app.entity_name(entity) for entity in ENTITIES}
    for head, relation, tail, score, sentences in rows:
        assert head in names and tail in names and head != tail
        assert relation in {"country", "located in the administrative territorial entity"}
        assert 0.0 <= score <= 1.0
        assert "·" in sentences
    assert [row[3] for row in rows] == sorted((row[3] for row in rows), reverse=True)
    # one node per entity, one edge per related ordered pair, one label per relation
    assert graph.count('class="globalre-node"') == len(ENTITIES)
    assert graph.count('class="globalre-edge"') == PAIRS
    assert graph.count('class="globalre-edge-label"') == 2 * PAIRS
    assert summary.startswith(f"**{2 * PAIRS}** relations")


def test_long_document_reports_progress_in_steps(extractor):
    names = [f"city{chr(ord('a') + i)}" for i in range(12)]  # 132 ordered pairs: more than one step
    text = " ".join(f"{name} is a city." for name in names)
    steps = []
    triples, mentions = app.extract(
        extractor, text, names, threshold=THRESHOLD, relations=["P17"], progress=lambda d, t: steps.append(d)
    )
    assert len(steps) > 1 and steps == sorted(steps) and steps[-1] == len(names) * (len(names) - 1)
    assert len(triples) == len(names) * (len(names) - 1)
    assert all(len(entity_mentions) == 1 for entity_mentions in mentions)


def test_model_with_pair_types_keeps_its_pairs(tmp_path):
    """A model that scores only some entity-type pairs is called once without `pairs=`, so it keeps its choice
    (its progress then jumps from 0 to done)."""
    extractor = app.load_extractor(make_tiny_model_dir(tmp_path / "model", pair_types=[["PER", "LOC"]]))
    names = [f"city{chr(ord('a') + i)}" for i in range(12)]
    text = " ".join(f"{name} is a city." for name in names)
    entities = [{"name": name, "type": "PER" if i < 3 else "LOC"} for i, name in enumerate(names)]
    steps = []
    triples, _ = app.extract(extractor, text, entities, THRESHOLD, ["P17"], lambda d, t: steps.append(d))
    assert steps == [len(names) * (len(names) - 1)]
    assert {(t["head"], t["tail"]) for t in triples} == {(h, t) for h in range(3) for t in range(3, 12)}


def test_packed_model_scores_all_pairs_in_one_call(tmp_path):
    """A packed model encodes the document once for all its pairs: one call, not one per step of pairs."""
    extractor = app.load_extractor(make_tiny_model_dir(tmp_path / "model", encoding="packed"))
    names = [f"city{chr(ord('a') + i)}" for i in range(12)]  # 132 ordered pairs: several steps for one-pair
    text = " ".join(f"{name} is a city." for name in names)
    steps = []
    triples, _ = app.extract(extractor, text, names, THRESHOLD, ["P17"], lambda d, t: steps.append(d))
    assert steps == [len(names) * (len(names) - 1)]
    assert len(triples) == len(names) * (len(names) - 1)


def test_bad_input_gives_the_pipelines_message(extractor):
    with pytest.raises(ValueError, match="Warsaw"):
        app.analyse(extractor, "Marie Curie was born here.", "Marie Curie\nWarsaw")
    with pytest.raises(ValueError, match="at least two entities"):
        app.analyse(extractor, "Marie Curie was born here.", "Marie Curie")
    with pytest.raises(ValueError, match="empty"):
        app.analyse(extractor, "  ", "a\nb")
    with pytest.raises(ValueError, match="threshold"):
        app.analyse(extractor, app.EXAMPLE_TEXT, app.EXAMPLE_ENTITIES, threshold=1.5)


@pytest.fixture(scope="module")
def detecting_model_dir(tmp_path_factory):
    """A tiny random model with the built-in entity detector (`config.entity_types`)."""
    return make_tiny_model_dir(
        tmp_path_factory.mktemp("demo-detector") / "model", entity_types=["PER", "LOC"]
    )


def test_plain_text_with_the_models_own_detector(detecting_model_dir):
    """No entity lines: the model finds the entities; the page shows what it found, as the pipeline's graph has
    it (every mention marked, one node per entity, the kept triples in the table)."""
    extractor = app.load_extractor(detecting_model_dir)
    assert app.has_entity_detector(extractor)
    graph = extractor(app.EXAMPLE_TEXT, return_graph=True, threshold=THRESHOLD, relations=RELATIONS)
    assert len(graph["entities"]) >= 2, "the random detector finds entities in the example (seed 0)"
    text_html, rows, svg, summary = app.analyse(
        extractor, app.EXAMPLE_TEXT, "  \n", threshold=THRESHOLD, relations=RELATIONS
    )
    found = len(graph["entities"])
    mentions = [(m["start"], m["end"]) for entity in graph["entities"] for m in entity["mentions"]]
    assert summary.startswith(f"Found **{found}** entities ({len(mentions)} mention")
    # marks cannot nest: a mention inside an earlier one is left unmarked, so count the non-overlapping ones
    position, marked = 0, 0
    for start, end in sorted(mentions):
        if start >= position:
            marked, position = marked + 1, end
    assert text_html.count('<mark class="globalre-mention"') == marked
    assert svg.count('class="globalre-node"') == found
    assert len(rows) == len(graph["relations"])
    # the table names each entity as the graph and the highlighted text do (the graph's name)
    names = [entity["name"] for entity in graph["entities"]]
    assert sorted((row[0], row[1], row[2]) for row in rows) == sorted(
        (names[t["head"]], t["relation_name"], names[t["tail"]]) for t in graph["relations"]
    )
    assert all(f"{html.escape(name)} (" in svg for name in names)
    # entity lines still take precedence over the detector
    _, rows, svg, summary = app.analyse(
        extractor, app.EXAMPLE_TEXT, app.EXAMPLE_ENTITIES, threshold=THRESHOLD, relations=RELATIONS
    )
    assert not summary.startswith("Found") and svg.count('class="globalre-node"') == len(ENTITIES)


def test_plain_text_where_fewer_than_two_entities_are_found_says_what_to_do():
    """One entity found: no pair to score; the summary says so and how to list entities instead."""

    class OneEntity:
        model = SimpleNamespace(entity_detector=object(), config=SimpleNamespace())

        def __call__(self, text, **options):
            assert options["return_graph"]
            mention = {"text": "Paris", "start": 0, "end": 5, "sent_id": 0}
            return {
                "entities": [{"id": 0, "name": "Paris", "type": "LOC", "mentions": [mention]}],
                "relations": [],
            }

    steps = []
    text_html, rows, svg, summary = app.analyse(
        OneEntity(), "Paris is nice.", "", progress=lambda d, t: steps.append(d)
    )
    assert steps == [0]
    assert summary.startswith("Found **1** entity (1 mention) in the text. Relations need two entities")
    assert summary.endswith("(1 entity).") and rows == []
    assert text_html.count('<mark class="globalre-mention"') == 1 and svg.count('class="globalre-node"') == 1


def test_plain_text_without_a_detector_asks_for_the_entities(extractor):
    assert not app.has_entity_detector(extractor)
    with pytest.raises(ValueError, match="no entity detector"):
        app.analyse(extractor, app.EXAMPLE_TEXT, "")


def test_no_model_page():
    demo = app.build_demo(None)
    assert any(getattr(block, "value", None) == app.NO_MODEL_MESSAGE for block in demo.blocks.values()), (
        "the page without a model says how to get one"
    )


def test_page_in_headless_chromium(model_dir, extractor):
    """Serves the app, opens it in headless Chromium, submits the example, and finds the highlighted mentions,
    the table rows and one graph node per entity; every resource the page loaded came from the app itself."""
    require(
        os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER),
        f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium chromium-driver)",
    )
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        require(False, 'selenium is not installed (pip install -e ".[dev]")')
    started = time.monotonic()
    demo = app.build_demo(model_dir, threshold=THRESHOLD, relations=RELATIONS)
    with demo_in_chromium(demo) as (driver, url):
        driver.get(url)
        wait = WebDriverWait(driver, 30)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#globalre-run"))[0].click()
        nodes = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#globalre-graph .globalre-node"))
        assert len(nodes) == len(ENTITIES)
        marks = driver.find_elements(By.CSS_SELECTOR, "#globalre-highlighted mark.globalre-mention")
        assert {mark.get_attribute("data-entity") for mark in marks} == {str(i) for i in range(len(ENTITIES))}
        assert "Marie Curie" in {mark.text.split("\n")[0].removesuffix("PER").strip() for mark in marks}
        rows = wait.until(
            lambda d: [
                row
                for row in d.find_elements(
                    # Gradio 6 draws rows as role="row" elements, Gradio 5 as table rows
                    By.CSS_SELECTOR,
                    '#globalre-table [role="row"], #globalre-table tbody tr',
                )
                if "country" in row.text or "located in" in row.text
            ]
        )
        assert rows, "the relations table has rows"
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(entry => entry.name)"
        )
        foreign = [name for name in resources if not name.startswith((url, "data:", "blob:"))]
        assert not foreign, f"the page fetched from elsewhere: {foreign[:5]}"
    assert time.monotonic() - started < 60


def test_plain_text_page_in_headless_chromium(detecting_model_dir):
    """A model with an entity detector: the page opens with an empty entity box, and a click on the example text
    shows the entities it found (the summary's count, one graph node each)."""
    require(
        os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER),
        f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium chromium-driver)",
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    graph = app.load_extractor(detecting_model_dir)(
        app.EXAMPLE_TEXT, return_graph=True, threshold=THRESHOLD, relations=RELATIONS
    )
    demo = app.build_demo(detecting_model_dir, threshold=THRESHOLD, relations=RELATIONS)
    with demo_in_chromium(demo) as (driver, url):
        driver.get(url)
        wait = WebDriverWait(driver, 30)
        box = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#globalre-entities textarea"))[0]
        assert box.get_attribute("value") == ""
        driver.find_element(By.CSS_SELECTOR, "#globalre-run").click()
        summary = wait.until(
            lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, "#globalre-summary") if "Found" in e.text]
        )[0]
        assert f"Found {len(graph['entities'])} entities" in summary.text
        nodes = driver.find_elements(By.CSS_SELECTOR, "#globalre-graph .globalre-node")
        assert len(nodes) == len(graph["entities"])
        names = {node.find_element(By.TAG_NAME, "title").get_attribute("textContent") for node in nodes}
        assert names == {f"{entity['name']} ({entity['type']})" for entity in graph["entities"]}
