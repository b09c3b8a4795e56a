# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""A Gradio demo of a GlobalRE model: a document in (with its entities listed, or as plain text for a model
trained with `train.py --entity_detection`, which finds them), the entity mentions highlighted, the relations as a
table and the relation graph drawn.

    pip install -e ".[demo]"
    python app.py                        # the quickstart's model (outputs/quickstart/model)
    python app.py --model org/globalre   # or any local folder or Hub id; GLOBALRE_MODEL=... does the same

The file has the form a Hugging Face Space runs: a module-level `demo` and `demo.launch()` under `__main__`.
Everything it serves is local (system fonts, an SVG graph laid out here, no CDN assets), so it works offline and
on a CPU.
"""

from __future__ import annotations

import argparse
import html
import math
import os
import sys
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

# Gradio reads this at import: no usage reports, no version check over the network.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = HERE / "outputs" / "quickstart" / "model"
NO_MODEL_MESSAGE = (
    "No model to load: train one with `python examples/quickstart.py` (it saves outputs/quickstart/model), or "
    "name a local folder or Hub id with `python app.py --model DIR` or the environment variable GLOBALRE_MODEL."
)

EXAMPLE_TEXT = (
    "Marie Curie was born in Warsaw. Warsaw is the capital of Poland. In 1891 she moved to Paris, France, "
    "where she met Pierre Curie. Marie Curie and Pierre Curie shared the Nobel Prize in Physics in 1903."
)
EXAMPLE_ENTITIES = "\n".join(
    [
        "Marie Curie | PER",
        "Warsaw | LOC",
        "Poland | LOC",
        "Paris | LOC",
        "France | LOC",
        "Pierre Curie | PER",
        "Nobel Prize in Physics | MISC",
        "1903 | TIME",
    ]
)
ENTITY_HELP = (
    "One entity a line: `name`, `name | TYPE`, or `name | TYPE | other mention; another mention`. Every "
    "whole-word occurrence of a name is a mention."
)
DETECTOR_HELP = (
    "Leave empty and the model finds the entities in the text and groups their mentions. Or: " + ENTITY_HELP
)
NO_DETECTOR_MESSAGE = (
    "List the entities, one a line: this model has no entity detector (train one with "
    "`python train.py --entity_detection` to extract from plain text)."
)

# Pairs per pipeline call when a document is split for progress: few enough calls that batching stays
# efficient, enough steps that a long document's progress bar moves.
MIN_PAIRS_PER_STEP = 64
PROGRESS_STEPS = 20

# Colour-blind-safe qualitative palette (Okabe-Ito), then a few more; entity types take them in order of first
# appearance, so the same document always gets the same colours.
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999"]
PALETTE += ["#8DD3C7", "#BEBADA", "#FB8072", "#80B1D3", "#FDB462", "#B3DE69"]
UNTYPED = "entity"

# System fonts only: a theme's web fonts would be fetched from the internet (or break offline).
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "Consolas", "monospace"]
)
CSS = """
.globalre-text { line-height: 2.1; font-size: 1.05rem; }
.globalre-text mark { padding: 0.1em 0.25em; border-radius: 0.3em; color: #111; }
.globalre-text mark .globalre-type { font-size: 0.65em; font-weight: 600; margin-left: 0.3em; opacity: 0.75; }
.globalre-legend span { display: inline-block; margin-right: 0.8em; }
.globalre-legend i { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 50%;
  margin-right: 0.3em; vertical-align: middle; }
.globalre-graph { text-align: center; }
.globalre-graph svg { max-width: 100%; height: auto; }
"""
# Gradio 6 takes the theme and CSS at launch; Gradio 5 when the Blocks are made.
_GRADIO_6 = int(gr.__version__.split(".")[0]) >= 6
LAUNCH_STYLE = {"theme": THEME, "css": CSS} if _GRADIO_6 else {}
_BLOCKS_STYLE = {} if _GRADIO_6 else {"theme": THEME, "css": CSS}
TABLE_HEADERS = ["Head", "Relation", "Tail", "Score", "Sentences (head · tail)"]
# a model trained with the evidence loss also gives each pair's evidence sentences
EVIDENCE_HEADER = "Evidence (sentences)"


# ----------------------------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------------------------


def resolve_model(model: str | None = None) -> str | None:
    """The model to serve: `model` when given, else $GLOBALRE_MODEL, else the quickstart's folder when it exists,
    else None (the demo then shows how to get one)."""
    if model:
        return model
    if os.environ.get("GLOBALRE_MODEL"):
        return os.environ["GLOBALRE_MODEL"]
    return str(DEFAULT_MODEL) if DEFAULT_MODEL.is_dir() else None


@lru_cache(maxsize=2)
def load_extractor(model: str):
    """The `relation-extraction` pipeline of a local folder or Hub id, loaded once per process.

    Raises:
        OSError: the folder or Hub id holds no model (transformers' message names it).
    """
    from transformers import pipeline

    return pipeline("relation-extraction", model=model, trust_remote_code=True)


def has_entity_detector(extractor) -> bool:
    """Whether the model finds entities in plain text itself (trained with `train.py --entity_detection`)."""
    return getattr(extractor.model, "entity_detector", None) is not None


def relation_choices(extractor) -> list[tuple[str, str]]:
    """`(shown name, relation id)` for every relation the model predicts, by name; the no-relation class is left
    out."""
    config = extractor.model.config
    no_relation = getattr(config, "no_relation_label", None)
    choices = []
    for label in config.id2label.values():
        if label == no_relation:
            continue
        name = config.relation_name(label) if hasattr(config, "relation_name") else label
        choices.append((name if name == label else f"{name} ({label})", label))
    return sorted(choices, key=lambda choice: choice[0].lower())


# ----------------------------------------------------------------------------------------------------------------
# Input and extraction
# ----------------------------------------------------------------------------------------------------------------


def parse_entities(lines: str) -> list[str | dict]:
    """The entity box, one entity a line, as the pipeline's text-form entities: `name` -> `"name"`;
    `name | TYPE` -> `{"name", "type"}`; `name | TYPE | m1; m2` -> `{"name", "type", "mentions": [m1, m2]}`.
    Blank lines are skipped.

    Raises:
        ValueError: a line with an empty name or more than three `|` fields (the message names the line).
    """
    entities: list[str | dict] = []
    for number, line in enumerate(lines.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split("|")]
        if len(fields) > 3 or not fields[0]:
            raise ValueError(
                f"Entity line {number} ({line.strip()!r}): write `name`, `name | TYPE` or "
                "`name | TYPE | other mention; another mention`."
            )
        if len(fields) == 1:
            entities.append(fields[0])
            continue
        entity: dict[str, Any] = {"name": fields[0]}
        if fields[1]:
            entity["type"] = fields[1]
        if len(fields) == 3 and fields[2]:
            entity["mentions"] = [mention.strip() for mention in fields[2].split(";") if mention.strip()]
        entities.append(entity)
    return entities


def entity_type(entity: str | dict) -> str:
    return (entity.get("type") if isinstance(entity, dict) else None) or UNTYPED


def entity_name(entity: str | dict) -> str:
    return entity["name"] if isinstance(entity, dict) else entity


def call_options(threshold: float | None, relations: Sequence[str] | None, **options: Any) -> dict[str, Any]:
    """The pipeline's call options for the form's controls: `threshold` when not the model's own, `relations`
    when some are chosen, and `options` as given."""
    if threshold is not None:
        options["threshold"] = threshold
    if relations:
        options["relations"] = list(relations)
    return options


def extract(
    extractor,
    text: str,
    entities: list[str | dict],
    threshold: float | None = None,
    relations: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict], list[list[dict]]]:
    """Runs the pipeline on `{"text": text, "entities": entities}`.

    Returns `(triples, mentions)`: the triples the decision rule keeps, best first (the pipeline's dicts), and
    each entity's mentions (`{"name", "sent_id", "pos", "char_span"}`, entity i at index i; empty when the
    document has fewer than two entities or `relations` allows none).

    Every ordered pair is scored with its scores for the allowed relations (`top_k` over them, filtered on
    `"kept"`), so that every entity's mentions come back even when it is in no kept triple. With the one-pair
    encoding, a document with more than `MIN_PAIRS_PER_STEP` pairs is scored in up to `PROGRESS_STEPS` calls of
    its pairs, and `progress(done, total)` is called after each (pairs); a packed model scores all pairs in one
    call.

    Raises:
        ValueError, TypeError: the pipeline's messages for bad input (an entity name that does not occur, two
            entities with the same mentions, a threshold outside [0, 1], an unknown relation).
    """
    document = {"text": text, "entities": list(entities)}
    options = call_options(threshold, relations, top_k=len(extractor.model.config.id2label))
    count = len(entities)
    pairs = [(head, tail) for head in range(count) for tail in range(count) if head != tail]
    # One call without `pairs=`, at the cost of a progress bar that does not move, for a model trained on some
    # entity-type pairs only (CDR's chemical -> disease), which scores only those, and for a packed model, which
    # encodes the document once for all its pairs: steps would encode it again for each.
    processor = extractor.processor
    if (
        len(pairs) <= MIN_PAIRS_PER_STEP
        or getattr(processor, "pair_types", None)
        or getattr(processor, "encoding", "pair") == "packed"
    ):
        steps = [None]
    else:
        size = max(MIN_PAIRS_PER_STEP, math.ceil(len(pairs) / PROGRESS_STEPS))
        steps = [pairs[start : start + size] for start in range(0, len(pairs), size)]
    scored: list[dict] = []
    done = 0
    for step in steps:
        scored += (
            extractor(document, **options) if step is None else extractor(document, pairs=step, **options)
        )
        done += len(pairs) if step is None else len(step)
        if progress is not None:
            progress(done, len(pairs))
    mentions: list[list[dict]] = [[] for _ in entities]
    for triple in scored:
        mentions[triple["head"]] = triple["head_mentions"]
        mentions[triple["tail"]] = triple["tail_mentions"]
    kept = [triple for triple in scored if triple.get("kept", True)]
    kept.sort(key=lambda triple: -triple["score"])
    return kept, mentions


def extract_from_plain_text(
    extractor, text: str, threshold: float | None = None, relations: Sequence[str] | None = None
) -> tuple[list[dict], list[dict], list[list[dict]]]:
    """Runs the pipeline on plain text with the model's own entity detector (`return_graph=True`).

    Returns `(entities, triples, mentions)`: the entities found (`{"name", "type"}`, in the graph's order), the
    triples the decision rule keeps, best first, with each entity's name as the graph gives it (so the table, the
    graph and the highlighted text name an entity alike), and each entity's mentions (`{"name", "sent_id",
    "char_span"}`, entity i at index i).

    Raises:
        ValueError, TypeError: the pipeline's messages (a threshold outside [0, 1], an unknown relation).
    """
    graph = extractor(text, **call_options(threshold, relations, return_graph=True))
    entities = [{"name": entity["name"], "type": entity["type"]} for entity in graph["entities"]]
    mentions = [
        [
            {
                "name": mention["text"],
                "sent_id": mention["sent_id"],
                "char_span": [mention["start"], mention["end"]],
            }
            for mention in entity["mentions"]
        ]
        for entity in graph["entities"]
    ]
    triples = [
        {
            **triple,
            "head_name": entities[triple["head"]]["name"],
            "tail_name": entities[triple["tail"]]["name"],
        }
        for triple in sorted(graph["relations"], key=lambda triple: -triple["score"])
    ]
    return entities, triples, mentions


# ----------------------------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------------------------


def type_colours(entities: Sequence[str | dict]) -> dict[str, str]:
    """A colour per entity type, in order of first appearance."""
    colours: dict[str, str] = {}
    for entity in entities:
        kind = entity_type(entity)
        if kind not in colours:
            colours[kind] = PALETTE[len(colours) % len(PALETTE)]
    return colours


def legend_html(colours: dict[str, str]) -> str:
    items = "".join(
        f'<span><i style="background:{colour}"></i>{html.escape(kind)}</span>'
        for kind, colour in colours.items()
    )
    return f'<div class="globalre-legend">{items}</div>'


def highlight_html(text: str, entities: Sequence[str | dict], mentions: Sequence[Sequence[dict]]) -> str:
    """The text with one `<mark class="globalre-mention">` per mention (character spans from the pipeline),
    coloured by entity type; hovering shows the entity, its type and its sentence (numbered from 1). A mention
    overlapping an earlier one is left unmarked (marks cannot nest)."""
    colours = type_colours(entities)
    spans = sorted(
        (mention["char_span"][0], mention["char_span"][1], index, mention.get("sent_id"))
        for index, entity_mentions in enumerate(mentions)
        for mention in entity_mentions
        if mention.get("char_span")
    )
    parts, position = [], 0
    for start, end, index, sent_id in spans:
        if start < position:
            continue
        entity = entities[index]
        kind = entity_type(entity)
        where = f", sentence {sent_id + 1}" if sent_id is not None else ""
        title = f"{entity_name(entity)} ({kind}){where}"
        parts.append(html.escape(text[position:start]))
        parts.append(
            f'<mark class="globalre-mention" data-entity="{index}" style="background:{colours[kind]}" '
            f'title="{html.escape(title)}">{html.escape(text[start:end])}'
            f'<span class="globalre-type">{html.escape(kind)}</span></mark>'
        )
        position = end
    parts.append(html.escape(text[position:]))
    return f'<div class="globalre-text">{"".join(parts)}</div>{legend_html(colours)}'


def sentence_numbers(mentions: Sequence[dict]) -> str:
    numbers = sorted({mention["sent_id"] + 1 for mention in mentions if mention.get("sent_id") is not None})
    return ", ".join(map(str, numbers))


def predicts_evidence(extractor) -> bool:
    """Whether the pipeline's model predicts evidence sentences (trained with the evidence loss)."""
    return bool(getattr(extractor.model.config, "predicts_evidence", False))


def table_rows(triples: Sequence[dict], evidence: bool = False) -> list[list]:
    """One row per triple: head, relation name, tail, score (3 decimals), and the sentences (from 1) where the
    head and the tail occur, as `"1, 3 · 2"`; with `evidence`, also the sentences (from 1) the model predicts as
    the pair's evidence (`"none"` when it predicts none)."""
    rows = []
    for triple in triples:
        row = [
            triple["head_name"],
            triple["relation_name"],
            triple["tail_name"],
            round(triple["score"], 3),
            f"{sentence_numbers(triple['head_mentions'])} · {sentence_numbers(triple['tail_mentions'])}",
        ]
        if evidence:
            row.append(", ".join(str(sentence + 1) for sentence in triple["evidence"] or []) or "none")
        rows.append(row)
    return rows


def graph_svg(
    entities: Sequence[str | dict], triples: Sequence[dict], width: int = 1000, height: int = 620
) -> str:
    """The relation graph as an SVG of `width` x `height` pixels: entities on an ellipse (`<g class="globalre-node">`,
    one per entity, coloured by type; names over 24 characters shortened, whole in the tooltip), one arrow per related (head, tail) pair (`<g class="globalre-edge">`) with its
    relations stacked as labels (`<text class="globalre-edge-label">`, one per relation). The two directions of a
    pair bend to opposite sides, so their arrows and labels do not overlap."""
    colours = type_colours(entities)
    count = len(entities)
    # margins leave room for node names beside the ellipse and edge labels above and below it
    centre_x, centre_y, node_radius = width / 2, height / 2, 16
    radius_x, radius_y = width / 2 - 230, height / 2 - 60
    points = [
        (
            centre_x + radius_x * math.cos(2 * math.pi * i / max(count, 1) - math.pi / 2),
            centre_y + radius_y * math.sin(2 * math.pi * i / max(count, 1) - math.pi / 2),
        )
        for i in range(count)
    ]
    by_pair: dict[tuple[int, int], list[dict]] = {}
    for triple in triples:
        by_pair.setdefault((triple["head"], triple["tail"]), []).append(triple)
    edges = []
    for (head, tail), pair_triples in by_pair.items():
        (x1, y1), (x2, y2) = points[head], points[tail]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        # bend to the left of the direction of travel: (head, tail) and (tail, head) curve apart
        bend = 0.18 * length
        cx, cy = (x1 + x2) / 2 + uy * bend, (y1 + y2) / 2 - ux * bend
        # start and end on the node circles, towards the control point
        sx, sy = _towards(x1, y1, cx, cy, node_radius)
        ex, ey = _towards(x2, y2, cx, cy, node_radius + 4)
        # the curve's midpoint (t = 1/2 of a quadratic Bezier) carries the labels
        mx, my = (sx + 2 * cx + ex) / 4, (sy + 2 * cy + ey) / 4
        # the labels stack outwards on the side the curve bends to, clear of the other direction's labels
        nx, ny = uy, -ux
        anchor = "start" if nx > 0.35 else ("end" if nx < -0.35 else "middle")
        count_labels = len(pair_triples)
        rows = [
            my - 5 - 13 * (count_labels - 1 - i) if ny < 0 else my + 13 + 13 * i for i in range(count_labels)
        ]
        labels = "".join(
            f'<text class="globalre-edge-label" x="{mx + 6 * nx:.1f}" y="{y:.1f}" text-anchor="{anchor}">'
            f"{html.escape(triple['relation_name'])} {triple['score']:.2f}</text>"
            for y, triple in zip(rows, pair_triples)
        )
        edges.append(
            f'<g class="globalre-edge" data-head="{head}" data-tail="{tail}">'
            f'<path d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" fill="none" stroke="#666" '
            f'stroke-width="1.5" marker-end="url(#globalre-arrow)"/>{labels}</g>'
        )
    nodes = []
    for index, (entity, (x, y)) in enumerate(zip(entities, points)):
        kind = entity_type(entity)
        # names outside the ellipse, on the side away from the centre
        lx, ly = _towards(x, y, centre_x, centre_y, -(node_radius + 8))
        anchor = "middle" if abs(lx - centre_x) < 20 else ("start" if lx > centre_x else "end")
        nodes.append(
            f'<g class="globalre-node" data-entity="{index}"><title>{html.escape(entity_name(entity))} '
            f"({html.escape(kind)})</title>"
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{node_radius}" fill="{colours[kind]}" stroke="#333"/>'
            f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="{anchor}" class="globalre-node-label">'
            f"{html.escape(_shorten(entity_name(entity)))}</text></g>"
        )
    return (
        f'<div class="globalre-graph"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" overflow="visible" font-family="system-ui, sans-serif" font-size="12">'
        '<defs><marker id="globalre-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>'
        "<style>.globalre-edge-label { fill: #222; paint-order: stroke; stroke: #fff; "
        "stroke-width: 3px; font-size: 11px; } .globalre-node-label { fill: #111; font-weight: 600; }</style>"
        f"{''.join(edges)}{''.join(nodes)}</svg></div>{legend_html(colours)}"
    )


def _shorten(name: str, limit: int = 24) -> str:
    """A node label of at most `limit` characters (the node's tooltip has the whole name)."""
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "\u2026"


def _towards(x: float, y: float, tx: float, ty: float, distance: float) -> tuple[float, float]:
    """The point `distance` from (x, y) towards (tx, ty) (away from it when negative)."""
    length = math.hypot(tx - x, ty - y) or 1.0
    return x + (tx - x) / length * distance, y + (ty - y) / length * distance


def analyse(
    extractor,
    text: str,
    entity_lines: str,
    threshold: float | None = None,
    relations: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[str, list[list], str, str]:
    """The demo's whole answer for the form's values: `(highlighted text HTML, table rows, graph SVG HTML,
    summary Markdown)`. With no entity lines, a model with an entity detector finds the entities itself
    (`extract_from_plain_text`).

    Raises:
        ValueError, TypeError: bad input, with the pipeline's message (or `parse_entities`'s); no entity lines
            for a model without an entity detector.
    """
    if not text.strip():
        raise ValueError("The text is empty: paste a document.")
    entities = parse_entities(entity_lines)
    found = ""
    if not entities and has_entity_detector(extractor):
        if progress is not None:
            progress(0, 1)
        entities, triples, mentions = extract_from_plain_text(extractor, text, threshold, relations)
        count = sum(len(entity_mentions) for entity_mentions in mentions)
        found = (
            f"Found **{len(entities)}** entit{'ies' if len(entities) != 1 else 'y'} "
            f"({count} mention{'s' if count != 1 else ''}) in the text. "
        )
        if len(entities) < 2:
            found += "Relations need two entities: list them in the entity box to choose them yourself. "
    elif not entities:
        raise ValueError(NO_DETECTOR_MESSAGE)
    elif len(entities) < 2:
        raise ValueError("Give at least two entities, one a line: relations are between pairs of entities.")
    else:
        triples, mentions = extract(extractor, text, entities, threshold, relations, progress)
    summary = found + (
        f"**{len(triples)}** relation{'s' if len(triples) != 1 else ''} between "
        f"**{len({(t['head'], t['tail']) for t in triples})}** of {len(entities) * (len(entities) - 1)} ordered "
        f"entity pairs ({len(entities)} entit{'ies' if len(entities) != 1 else 'y'})."
    )
    return (
        highlight_html(text, entities, mentions),
        table_rows(triples, evidence=predicts_evidence(extractor)),
        graph_svg(entities, triples),
        summary,
    )


# ----------------------------------------------------------------------------------------------------------------
# The app
# ----------------------------------------------------------------------------------------------------------------


def build_demo(
    model: str | None, threshold: float | None = None, relations: Sequence[str] | None = None
) -> gr.Blocks:
    """The Gradio app for `model` (a local folder or Hub id; None: a page that says how to get one).
    `threshold` and `relations` preset the controls (None: the model's own thresholds, every relation).

    Raises:
        OSError: `model` holds no model (loaded here, so a wrong name fails at start, not on the first click).
    """
    with gr.Blocks(title="GlobalRE demo", analytics_enabled=False, **_BLOCKS_STYLE) as demo:
        gr.Markdown(
            "# GlobalRE: document-level relation extraction\n"
            "Paste a document and list its entities (or, with a model that finds them, leave the list empty); "
            "GlobalRE scores every ordered pair of entities and keeps the relations above the threshold."
        )
        if model is None:
            gr.Markdown(NO_MODEL_MESSAGE, elem_id="globalre-no-model")
            return demo
        extractor = load_extractor(model)
        detector = has_entity_detector(extractor)
        gr.Markdown(f"Model: `{model}`")
        with gr.Row():
            with gr.Column(scale=3):
                text = gr.Textbox(
                    value=EXAMPLE_TEXT, label="Document", lines=7, elem_id="globalre-input-text"
                )
            with gr.Column(scale=2):
                # a model with a detector starts from plain text: what most users have
                entity_box = gr.Textbox(
                    value="" if detector else EXAMPLE_ENTITIES,
                    label="Entities" + (" (optional)" if detector else ""),
                    info=DETECTOR_HELP if detector else ENTITY_HELP,
                    lines=7,
                    elem_id="globalre-entities",
                )
        with gr.Row():
            own = gr.Checkbox(value=threshold is None, label="The model's own thresholds")
            cut = gr.Slider(
                0.0,
                1.0,
                value=0.5 if threshold is None else threshold,
                step=0.01,
                label="Threshold (when not the model's own)",
            )
            chosen = gr.Dropdown(
                choices=relation_choices(extractor),
                value=list(relations or []),
                multiselect=True,
                label="Only these relations (none chosen: all)",
            )
        run = gr.Button("Extract relations", variant="primary", elem_id="globalre-run")
        summary = gr.Markdown(elem_id="globalre-summary")
        with gr.Row():
            with gr.Column(scale=2):
                highlighted = gr.HTML(label="Entities in the text", elem_id="globalre-highlighted")
            with gr.Column(scale=3):
                evidence = predicts_evidence(extractor)
                table = gr.Dataframe(
                    headers=TABLE_HEADERS + [EVIDENCE_HEADER] * evidence,
                    datatype=["str", "str", "str", "number", "str"] + ["str"] * evidence,
                    label="Relations",
                    interactive=False,
                    wrap=True,
                    max_height=420,
                    elem_id="globalre-table",
                )
        graph = gr.HTML(label="Relation graph", elem_id="globalre-graph")

        def on_run(document, lines, use_own, value, names, progress=gr.Progress()):  # noqa: B008 (Gradio's idiom)
            progress(0.0, desc="Scoring entity pairs")

            def report(done: int, total: int) -> None:
                if (
                    done == 0
                ):  # plain text: the model finds the entities, then scores their pairs, in one call
                    progress(0.0, desc="Finding entities and scoring their pairs")
                else:
                    progress(done / total, desc=f"Scored {done} of {total} entity pairs")

            try:
                return analyse(extractor, document, lines, None if use_own else value, names or None, report)
            except (ValueError, TypeError) as error:
                raise gr.Error(str(error)) from error

        run.click(on_run, [text, entity_box, own, cut, chosen], [highlighted, table, graph, summary])
    return demo


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        help="a local model folder or Hub id (default: $GLOBALRE_MODEL, else outputs/quickstart/model)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="the address to serve on (0.0.0.0: every interface)"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="the port (default: Gradio's, 7860 or the next free)"
    )
    args = parser.parse_args(argv)
    model = resolve_model(args.model)
    if model is None:
        print(NO_MODEL_MESSAGE, file=sys.stderr)
    if model is not None and model.startswith(("/", ".", "~")) and not Path(model).expanduser().is_dir():
        sys.exit(f"No model folder at {model}: pass a saved model's folder or a Hub id.")
    global demo
    try:
        demo = build_demo(model)
    except (OSError, ValueError) as error:  # a folder or Hub id without a model: say so, without a traceback
        sys.exit(f"Cannot load the model {model!r}: {error}")
    demo.launch(server_name=args.host, server_port=args.port, **LAUNCH_STYLE)


if __name__ == "__main__":
    main()
else:  # imported (a Space's loader, `gradio app.py`, tests): the module-level app on the default model
    demo = build_demo(resolve_model())
