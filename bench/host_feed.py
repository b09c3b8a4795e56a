"""How fast the host can feed pair sequences to an accelerator: the project's inference path with the encoder
replaced by a stub, so only what runs on the CPU is timed (tokenizing documents, building every pair sequence,
sorting, packing and padding batches). A GPU cannot score pairs faster than this; the issue's MiniLM goal on an
H100 needs about 14,500 pairs/s. Rates are pairs per CPU second of this process: on a GPU this work runs in
background threads that share one interpreter lock, so about one core's worth of it is available. Torch runs on
one thread here (`--threads`): with more, the OpenMP workers that a small CPU tensor operation wakes spin for a
while afterwards, and their spinning, which costs no wall time and holds no lock, would be counted as feed work.

    python bench/host_feed.py --docs 100                       # all pairs of the first 100 Re-DocRED test documents
    python bench/host_feed.py --docs 100 --entity_markers plain
    python bench/host_feed.py --docs 100 --profile             # and where the whole path's time goes

Prints pairs/s for encoding alone, for packing + padding alone, and for the whole path (`iter_document_logits`,
which on a GPU also runs encoding and padding in background threads), best of `--repeats` runs. `--profile` adds
the parts of the whole path timed on their own, as shares of it, then cProfile's top functions: cProfile charges
its own cost to every Python call, so it overstates Python-heavy parts (the interval search of truncated pairs)
beside parts that run in compiled code (the tokenizer); the timed shares are the ones to quote.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REDOCRED_TEST, load_documents, machine_description, minilm_dir  # noqa: E402

from inference_globalre import iter_document_logits  # noqa: E402
from pair_encoding_globalre import PairSequences, document_segment, kept_intervals  # noqa: E402
from processing_globalre import GlobalReProcessor  # noqa: E402


class _StubModel(torch.nn.Module):
    """Returns zero logits at once, so the timed work is the host's alone."""

    def __init__(self, num_labels: int):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.config = SimpleNamespace(num_labels=num_labels)
        self.classifier = torch.nn.Linear(1, 1)  # only its parameters' dtype is read

    def pair_representation(self, input_ids, **batch):
        return torch.zeros(input_ids.shape[0], 1)

    def classify(self, representation):
        return SimpleNamespace(logits=representation.expand(-1, self.config.num_labels))


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(REDOCRED_TEST))
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--entity_markers", choices=["none", "plain", "typed"], default="none")
    parser.add_argument("--max_batch_tokens", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch.set_num_threads (default 1: the CPU seconds are then the feed's own work, not spin-waits)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print where the whole path's time goes: its parts timed alone, then cProfile's top 15",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    # truncation notes are not the point here
    logging.getLogger("processing_globalre").setLevel(logging.ERROR)

    from transformers import AutoTokenizer

    documents = load_documents(args.data, args.docs)
    processor = GlobalReProcessor(
        AutoTokenizer.from_pretrained(minilm_dir()), entity_markers=args.entity_markers
    )
    encodings = [processor.encode_document(document, index=i) for i, document in enumerate(documents)]
    pairs = sum(len(encoding) for encoding in encodings)
    sequences = PairSequences.concatenate([encoding.sequences for encoding in encodings])

    def encode():
        for i, document in enumerate(documents):
            processor.encode_document(document, index=i)

    def pack():
        for _ in sequences.iter_batches(
            args.max_batch_tokens, pad_token_id=processor.pad_token_id, pad_to_multiple_of=8
        ):
            pass

    stub = _StubModel(num_labels=97)

    def whole():
        for _ in iter_document_logits(stub, processor, documents, max_batch_tokens=args.max_batch_tokens):
            pass

    print(machine_description(torch.device("cpu")))
    print(
        f"{len(documents)} documents of {Path(args.data).name}, {pairs} pairs, markers {args.entity_markers}, "
        f"{args.max_batch_tokens}-token batches; CPU seconds, best of {args.repeats}"
    )
    seconds = {}
    for name, run in (("encode", encode), ("pack + pad", pack), ("whole path", whole)):
        seconds[name] = best_of(args.repeats, run)
        print(f"{name:<11} {seconds[name]:6.2f} s  {pairs / seconds[name]:9.0f} pairs/s")
    if args.profile:

        def tokenize():
            for i, document in enumerate(documents):
                processor.tokenize_document(document, index=i)

        truncated = []  # (tokenized document, head, tail, document-token budget) of every pair that was cut
        settings = processor.encoding_settings()
        for i, (document, encoding) in enumerate(zip(documents, encodings)):
            if encoding.truncated_pairs:
                tokenized = processor.tokenize_document(document, index=i)
                entity_tokens = encoding.sequences.spans[:, 1:, 1].sum(axis=1)
                for position in encoding.truncated_pairs:
                    head, tail = encoding.pairs[position]
                    budget = processor.max_seq_length - 2 - int(entity_tokens[position])
                    truncated.append((tokenized, head, tail, budget))

        def interval_search():
            for tokenized, head, tail, budget in truncated:
                kept_intervals(tokenized, head, tail, budget, settings)

        def truncated_segments():  # the one-pair path that truncated pairs take, interval search included
            for tokenized, head, tail, budget in truncated:
                document_segment(tokenized, head, tail, budget, settings)

        parts = (
            ("tokenizing the documents", tokenize),
            (f"segments of the {len(truncated)} truncated pairs", truncated_segments),
            ("  of which their interval search", interval_search),
            ("packing + padding the batches", pack),
        )
        print("parts of the whole path, each timed alone (best of the same repeats):")
        for name, run in parts:
            part = best_of(args.repeats, run)
            per_pair = run in (truncated_segments, interval_search) and truncated
            each = f", {part / len(truncated) * 1e6:.0f} us a pair" if per_pair else ""
            print(
                f"  {name:<45} {part:6.3f} s  {100 * part / seconds['whole path']:5.1f} % of the whole path{each}"
            )
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(whole)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
