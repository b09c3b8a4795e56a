"""A fingerprint of what the processor encodes, to show that a speed change left every encoding as it was: run it
in two checkouts (e.g. a `git worktree` of the commit before) and compare the output, line by line.

    python bench/encoding_digest.py > after.txt
    (cd ../before && python bench/encoding_digest.py) > before.txt && diff before.txt after.txt

For the first 60 Re-DocRED test and 20 dev documents, under every setting of entity markers (none, plain,
typed), `max_seq_length` (512, 256, 128, 64) and long-document strategy, and for all candidate pairs as well as
a few random explicit pairs per document (fixed seed), it hashes each encoding's pairs, token ids, segment
lengths, truncated pairs and notes, and prints one SHA-256 per setting and the number of encodings.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REDOCRED_TEST, SHARED_DATA, load_documents, minilm_dir  # noqa: E402

from processing_globalre import GlobalReProcessor  # noqa: E402

REDOCRED_DEV = SHARED_DATA / "redocred" / "dev_revised.json"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--test_docs", type=int, default=60)
    parser.add_argument("--dev_docs", type=int, default=20)
    args = parser.parse_args(argv)
    logging.getLogger("processing_globalre").setLevel(logging.ERROR)  # the notes are hashed instead

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    documents = load_documents(REDOCRED_TEST, args.test_docs) + load_documents(REDOCRED_DEV, args.dev_docs)
    encodings = 0
    for markers in ("none", "plain", "typed"):
        for max_seq_length in (512, 256, 128, 64):
            for strategy in ("mention_windows", "truncate_tail"):
                processor = GlobalReProcessor(
                    tokenizer,
                    entity_markers=markers,
                    max_seq_length=max_seq_length,
                    long_document_strategy=strategy,
                )
                digest = hashlib.sha256()
                rng = random.Random(0)
                for index, document in enumerate(documents):
                    n = len(document["vertexSet"])
                    explicit = [(rng.randrange(n), rng.randrange(n)) for _ in range(5)]
                    # distinct pairs with h != t: the processor refuses the others (issue 14)
                    explicit = list(dict.fromkeys((h, t) for h, t in explicit if h != t))
                    for pairs in (None, explicit):
                        encoding = processor.encode_document(document, pairs, index=index)
                        fields = (
                            encoding.pairs,
                            encoding.input_ids,
                            encoding.segment_lengths,
                            encoding.truncated_pairs,
                            encoding.notes,
                            encoding.document_tokens,
                        )
                        digest.update(repr(fields).encode())
                        encodings += 1
                print(
                    f"markers {markers:<5} max_seq_length {max_seq_length:<3} {strategy:<15} {digest.hexdigest()}"
                )
    print(f"{encodings} encodings of {len(documents)} documents")


if __name__ == "__main__":
    main()
