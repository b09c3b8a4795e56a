"""A fingerprint of what the processor encodes, to show that a speed change left every encoding as it was: run it
in two checkouts (e.g. a `git worktree` of the commit before) and compare the output, line by line.

    python bench/encoding_digest.py > after.txt
    (cd ../before && python bench/encoding_digest.py) > before.txt && diff before.txt after.txt

Three parts, one SHA-256 per setting each:
- the one-pair encoding: for the first 60 Re-DocRED test and 20 dev documents (MiniLM's tokenizer), under every
  setting of entity markers (none, plain, typed), `max_seq_length` (512, 256, 128, 64) and long-document
  strategy, for all candidate pairs as well as a few random explicit pairs per document (fixed seed): each
  encoding's pairs, token ids, segment lengths, truncated pairs, notes and document tokens;
- the packed encoding: the same documents and pairs under entity markers (none, plain, typed), both pair
  segments (names, markers) and `max_seq_length` 512 and 128 (documents in several windows): the same fields,
  the windows, and every array of the packed container (tokens, position ids, token types, windows, pair
  segments, mentions);
- logits (`--logits`, needs no shared data): a tiny seeded random model (tests/helpers.py) over the committed
  slice's 12 test documents, for both encodings under several pooling and marker settings, through the
  processor's batches; logits rounded to 4 decimals, so that a change that reorders the same arithmetic still
  compares equal.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REDOCRED_TEST, REPO, SHARED_DATA, load_documents, minilm_dir  # noqa: E402

from processing_globalre import GlobalReProcessor  # noqa: E402

REDOCRED_DEV = SHARED_DATA / "redocred" / "dev_revised.json"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--test_docs", type=int, default=60)
    parser.add_argument("--dev_docs", type=int, default=20)
    parser.add_argument("--parts", default="pair,packed,logits", help="which parts to print, comma-separated")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    logging.getLogger("processing_globalre").setLevel(logging.ERROR)  # the notes are hashed instead

    from transformers import AutoTokenizer

    if "logits" in parts:
        logits_digests()
    if not parts & {"pair", "packed"}:
        return
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    documents = load_documents(REDOCRED_TEST, args.test_docs) + load_documents(REDOCRED_DEV, args.dev_docs)
    if "packed" in parts:
        packed_digests(tokenizer, documents)
    if "pair" not in parts:
        return
    encodings = 0
    explicit = explicit_pairs(documents)
    for markers in ("none", "plain", "typed"):
        for max_seq_length in (512, 256, 128, 64):
            for strategy in ("mention_windows", "truncate_tail"):
                processor = GlobalReProcessor(
                    tokenizer,
                    entity_markers=markers,
                    max_seq_length=max_seq_length,
                    long_document_strategy=strategy,
                )
                digest, count = setting_digest(processor, documents, explicit, pair_fields)
                encodings += count
                print(f"markers {markers:<5} max_seq_length {max_seq_length:<3} {strategy:<15} {digest}")
    print(f"{encodings} encodings of {len(documents)} documents")


def setting_digest(processor, documents: list[dict], explicit: list, fields) -> tuple[str, int]:
    """The SHA-256 of `fields(encoding)` (a list of byte strings) over every document's encoding of all its
    candidate pairs and of its `explicit` pairs, and the number of encodings."""
    digest, count = hashlib.sha256(), 0
    for index, document in enumerate(documents):
        for pairs in (None, explicit[index]):
            for part in fields(processor.encode_document(document, pairs, index=index)):
                digest.update(part)
            count += 1
    return digest.hexdigest(), count


def pair_fields(encoding) -> list[bytes]:
    e = encoding
    return [
        repr(
            (e.pairs, e.input_ids, e.segment_lengths, e.truncated_pairs, e.notes, e.document_tokens)
        ).encode()
    ]


def packed_fields(encoding) -> list[bytes]:
    """`pair_fields`' fields with the token types and the number of windows, then every array of the container."""
    e = encoding
    fields = (e.pairs, e.input_ids, e.segment_lengths, e.token_type_ids, e.truncated_pairs, e.notes)
    arrays = [getattr(encoding.sequences, name) for name in PACKED_ARRAYS]
    return [
        repr((*fields, e.document_tokens, e.windows)).encode(),
        *(f"{name}{a.dtype}{a.shape}".encode() + a.tobytes() for name, a in zip(PACKED_ARRAYS, arrays)),
    ]


def explicit_pairs(documents: list[dict]) -> list[list[tuple[int, int]]]:
    """A few random distinct (head, tail) pairs per document with h != t, which the processor requires (fixed
    seed)."""
    rng = random.Random(0)
    chosen = []
    for document in documents:
        n = len(document["vertexSet"])
        pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(5)]
        chosen.append(list(dict.fromkeys((h, t) for h, t in pairs if h != t)))
    return chosen


PACKED_ARRAYS = (
    "tokens",
    "positions",
    "types",
    "windows",
    "documents",
    "pairs",
    "pair_doc",
    "pair_entities",
    "entities",
    "mention_windows",
    "mention_columns",
)


def packed_digests(tokenizer, documents: list[dict]) -> None:
    encodings = 0
    explicit = explicit_pairs(documents)
    for markers in ("none", "plain", "typed"):
        for pair_segment in ("names", "markers"):
            for max_seq_length in (512, 128):
                processor = GlobalReProcessor(
                    tokenizer,
                    encoding="packed",
                    pair_segment=pair_segment,
                    entity_markers=markers,
                    max_seq_length=max_seq_length,
                )
                digest, count = setting_digest(processor, documents, explicit, packed_fields)
                encodings += count
                print(
                    f"packed markers {markers:<5} pair_segment {pair_segment:<7} max_seq_length "
                    f"{max_seq_length:<3} {digest}"
                )
    print(f"{encodings} packed encodings of {len(documents)} documents")


LOGITS_SETTINGS = (
    {},
    {"entity_markers": "typed", "pooling": "markers", "marker_pooling": "logsumexp"},
    {"max_seq_length": 128, "entity_markers": "plain", "pooling": "cls"},
    {"encoding": "packed"},
    {"encoding": "packed", "pooling": "mean", "max_seq_length": 128},
    {"encoding": "packed", "pair_segment": "markers", "entity_markers": "plain", "pooling": "markers"},
    {
        "encoding": "packed",
        "pair_segment": "markers",
        "entity_markers": "typed",
        "pooling": "markers",
        "marker_pooling": "logsumexp",
        "max_seq_length": 128,
    },
)


def logits_digests() -> None:
    import tempfile

    import torch

    sys.path.insert(0, str(REPO))
    from tests.helpers import REDOCRED_TEST as SLICE_TEST
    from tests.helpers import tiny_model_and_processor

    documents = load_documents(SLICE_TEST)
    explicit = explicit_pairs(documents)
    torch.set_num_threads(1)  # one reduction order, whatever the machine's cores
    with tempfile.TemporaryDirectory() as workdir:
        for setting in LOGITS_SETTINGS:
            model, processor = tiny_model_and_processor(workdir, seed=0, **setting)
            digest = hashlib.sha256()
            rows = 0
            with torch.inference_mode():
                for index, document in enumerate(documents):
                    # all pairs packed; a few explicit pairs per document for the one-pair path (its sequences
                    # are long at the tiny vocabulary's character pieces)
                    pairs = None if setting.get("encoding") == "packed" else explicit[index]
                    encoding = processor.encode_document(document, pairs, index=index)
                    logits = torch.empty(len(encoding), model.config.num_labels)
                    for positions, batch in processor.iter_batches(encoding, max_batch_tokens=8192):
                        logits[positions] = model(**batch).logits
                    digest.update(repr(encoding.pairs).encode())
                    digest.update(repr(torch.round(logits, decimals=4).tolist()).encode())
                    rows += len(encoding)
            described = " ".join(f"{key}={value}" for key, value in setting.items()) or "defaults"
            print(f"logits {described:<100} {rows:>6} pairs {digest.hexdigest()}")


if __name__ == "__main__":
    main()
