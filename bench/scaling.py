"""How the project's inference path scales with a document's number of entities (n (n - 1) ordered pairs, each a
full-document sequence) and with its length, on real Re-DocRED test documents. Everything in the tables is
measured; nothing is extrapolated.

    python bench/scaling.py --device cpu                 # MiniLM, ~2-3 minutes on 2 CPU cores
    python bench/scaling.py --device cuda --encoder bert-base --entities 5 10 20 30 42 --length_pairs 0

Entities table: for each target entity count, the test document with that many entities whose length is nearest
the median, all of its pairs scored. Length table: for each target length (document tokens), the nearest
document, `--length_pairs` pairs sampled with a fixed seed (0 = all pairs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    REDOCRED_TEST,
    build_model,
    load_documents,
    machine_description,
    run_project,
    sample_pairs,
)

from inference_globalre import default_max_batch_tokens  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--encoder", choices=["minilm", "bert-base"], default="minilm")
    parser.add_argument("--data", default=str(REDOCRED_TEST))
    parser.add_argument("--entities", type=int, nargs="+", default=[3, 6, 9, 12, 18])
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 200, 300, 400, 600])
    parser.add_argument("--length_pairs", type=int, default=12, help="pairs per document of the length table")
    parser.add_argument("--max_batch_tokens", type=int, default=None)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    model, processor = build_model(args.encoder)
    model = model.to(device)
    max_batch_tokens = args.max_batch_tokens or default_max_batch_tokens(device)
    documents = load_documents(args.data)
    entities = [len(document["vertexSet"]) for document in documents]
    tokens = [len(processor.tokenize_document(document, i).ids) for i, document in enumerate(documents)]
    median_tokens = statistics.median(tokens)
    print(machine_description(device))
    print(
        f"encoder {args.encoder}; project path (iter_document_logits), max_batch_tokens {max_batch_tokens}; "
        f"{Path(args.data).name}: {len(documents)} documents, median {median_tokens:.0f} document tokens, "
        f"entities {min(entities)}-{max(entities)}"
    )
    warm = [documents[0]]
    run_project(model, processor, warm, sample_pairs(warm, 4), device, max_batch_tokens)

    print("\nTime per document against the number of entities (all ordered pairs scored):\n")
    rows = [["entities", "pairs", "doc tokens", "mean seq len", "seconds", "ms / pair", "pairs / s"]]
    for target in args.entities:
        index = min(
            range(len(documents)), key=lambda i: (abs(entities[i] - target), abs(tokens[i] - median_tokens))
        )
        result = run_project(model, processor, [documents[index]], [None], device, max_batch_tokens)
        rows.append(_row(entities[index], tokens[index], result))
    _print(rows)

    pairs_note = "all pairs" if args.length_pairs == 0 else f"{args.length_pairs} sampled pairs per document"
    print(f"\nTime per document against its length ({pairs_note}):\n")
    rows = [["entities", "pairs", "doc tokens", "mean seq len", "seconds", "ms / pair", "pairs / s"]]
    for target in args.lengths:
        index = min(range(len(documents)), key=lambda i: abs(tokens[i] - target))
        chosen = [documents[index]]
        pairs = sample_pairs(chosen, args.length_pairs or None, seed=0)
        result = run_project(model, processor, chosen, pairs, device, max_batch_tokens)
        rows.append(_row(entities[index], tokens[index], result))
    _print(rows)


def _row(num_entities: int, doc_tokens: int, result) -> list[str]:
    return [
        str(num_entities),
        str(result.pairs),
        str(doc_tokens),
        f"{sum(result.lengths) / max(result.pairs, 1):.0f}",
        f"{result.seconds:.2f}",
        f"{1000 * result.seconds / max(result.pairs, 1):.1f}",
        f"{result.pairs / result.seconds:.1f}",
    ]


def _print(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        print("| " + " | ".join(cell.rjust(width) for cell, width in zip(row, widths)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (width + 1) + ":" for width in widths) + "|")


if __name__ == "__main__":
    main()
