"""The packed encoding (`encoding="packed"`): a document encoded once, each pair's own short segment attending to it
and to itself. Tiny random models: seconds on CPU."""

from __future__ import annotations

import copy
import json
import textwrap

import numpy as np
import pytest
import torch

from configuration_globalre import marker_slots_in_inputs
from documents_globalre import DocumentError
from inference_globalre import iter_document_logits, score_sequences
from modeling_packed_globalre import PACKED_TILE_TOKENS, build_pair_tiles, greedy_tile_starts
from packed_encoding_globalre import PackedSequences
from processing_globalre import GlobalReProcessor
from tests.helpers import (
    EXAMPLE_DOCUMENT,
    REDOCRED_TEST,
    make_tiny_model_dir,
    run_without_project,
    tiny_model_and_processor,
    tiny_tokenizer,
)

SETTINGS = [  # (entity markers, pooling, pair segment)
    ("none", "pooler", "names"),
    ("plain", "markers", "names"),
    ("typed", "markers", "markers"),
    ("none", "mean", "markers"),
    ("none", "cls", "names"),
]


def _documents() -> list[dict]:
    # the tiny tokenizer spells words out letter by letter, so these Re-DocRED documents need several windows
    return [copy.deepcopy(EXAMPLE_DOCUMENT), *json.loads(REDOCRED_TEST.read_text())[:2]]


def _packed(tmp_path, markers="plain", pooling="markers", segment="names", **kwargs):
    model, processor = tiny_model_and_processor(
        tmp_path,
        seed=1,
        encoding="packed",
        entity_markers=markers,
        pooling=pooling,
        marker_pooling="logsumexp",
        pair_segment=segment,
        **kwargs,
    )
    sequences = PackedSequences.concatenate([processor.encode_document(d).sequences for d in _documents()])
    return model.eval(), processor, sequences


def _dense_reference(model, sequences: PackedSequences, rows) -> torch.Tensor:
    """Pair by pair through the plain BERT encoder: the document's windows and the pair's segment as one sequence,
    with an attention mask written out token by token (a window's tokens see their window; the pair's tokens see
    every window and their segment)."""
    bert, logits, contexts = model.encoder, [], []
    for row in rows:
        first, count = sequences.documents[sequences.pair_doc[row]]
        ids, positions, types, part = [], [], [], []
        offsets = []  # where each window starts
        for window, (start, length) in enumerate(sequences.windows[first : first + count]):
            offsets.append(len(ids))
            ids += sequences.tokens[start : start + length].tolist()
            positions += list(range(length))
            types += [0] * length
            part += [-1 - window] * length
        start, length = sequences.pairs[row]
        cls = len(ids)
        ids += sequences.tokens[start : start + length].tolist()
        positions += sequences.positions[start : start + length].tolist()
        types += sequences.types[start : start + length].tolist()
        part += [1] * length
        n = len(ids)
        mask = torch.tensor(
            [[part[q] == part[k] or (part[q] > 0 > part[k]) for k in range(n)] for q in range(n)]
        )
        hidden = bert(
            input_ids=torch.tensor([ids]),
            token_type_ids=torch.tensor([types]),
            position_ids=torch.tensor([positions]),
            attention_mask=mask[None, None],
        ).last_hidden_state[0]
        pooling = model.config.pooling
        if pooling == "pooler":
            vector = bert.pooler.activation(bert.pooler.dense(hidden[cls]))
        elif pooling == "cls":
            vector = hidden[cls]
        elif pooling == "mean":
            vector = hidden.mean(dim=0)
        else:
            head, tail = (_entity_state(sequences, hidden, offsets, e) for e in sequences.pair_entities[row])
            vector = torch.cat([hidden[cls], head, tail])
            if model.config.context_pooling == "localized":
                # the attention probabilities themselves, from the eager attention, which needs an additive mask
                # (it does not mask with a boolean one of this shape in transformers 5.24)
                bert.set_attn_implementation("eager")
                try:
                    attention = bert(
                        input_ids=torch.tensor([ids]),
                        token_type_ids=torch.tensor([types]),
                        position_ids=torch.tensor([positions]),
                        attention_mask=torch.where(mask, 0.0, torch.finfo(torch.float32).min)[None, None],
                        output_attentions=True,
                    ).attentions[-1][0]
                finally:
                    bert.set_attn_implementation("sdpa")
                context = _localized_context(sequences, hidden, attention, offsets, cls, row)
                contexts.append(context)
                vector = torch.cat([vector, context])
        logits.append(model.classify(vector[None]).logits[0])
    if contexts:  # the reference reads real contexts, not the zeros of pairs whose entities share no window
        assert sum(bool(context.abs().sum() > 0) for context in contexts) > len(contexts) // 2
    return torch.stack(logits)


def _markers(sequences: PackedSequences, offsets: list[int], entity: int) -> list[int]:
    begin, number = sequences.entities[entity]
    windows = sequences.mention_windows[begin : begin + number]
    columns = sequences.mention_columns[begin : begin + number]
    return [offsets[w] + c for w, c in zip(windows, columns)]


def _localized_context(sequences, hidden, attention, offsets, document_length, row) -> torch.Tensor:
    """ATLOP's localized context pooling written out for one pair of the dense sequence: `attention` `(heads,
    tokens, tokens)` is the last layer's (a window's marker sees its own window only)."""
    head, tail = (
        attention[:, _markers(sequences, offsets, e), :document_length].mean(dim=1)
        for e in sequences.pair_entities[row]
    )
    weights = (head * tail).mean(dim=0)
    return (weights / (weights.sum() + 1e-5)) @ hidden[:document_length]


def _entity_state(
    sequences: PackedSequences, hidden: torch.Tensor, offsets: list[int], entity: int
) -> torch.Tensor:
    return torch.logsumexp(hidden[_markers(sequences, offsets, entity)], dim=0)


HEADS = {  # ATLOP's head: the localized context and the grouped bilinear classifier, together and apart
    "linear": {},
    "localized_context": {"context_pooling": "localized"},
    "group_bilinear": {"classifier": "group_bilinear", "bilinear_block_size": 8},
    "both": {"context_pooling": "localized", "classifier": "group_bilinear", "bilinear_block_size": 8},
}


@pytest.mark.parametrize(
    "markers, pooling, segment, head",
    [(*setting, "linear") for setting in SETTINGS]
    + [("plain", "markers", "markers", head) for head in HEADS if head != "linear"],
)
def test_packed_encoder_is_the_masked_sequence_and_isolates_every_pair(
    tmp_path, markers, pooling, segment, head
):
    model, processor, sequences = _packed(tmp_path, markers, pooling, segment, **HEADS[head])
    assert len(sequences.windows) > len(sequences.documents)  # windowed documents are covered
    with torch.inference_mode():
        reference = score_sequences(model, processor, sequences, max_batch_tokens=100_000)
        rows = list(range(0, len(sequences), max(1, len(sequences) // 10)))
        torch.testing.assert_close(
            _dense_reference(model, sequences, rows), reference[rows], atol=2e-6, rtol=1e-5
        )
        # the same logits whichever pairs share the batch, in whatever order, in batches of any size
        alone = torch.cat([score_sequences(model, processor, sequences.subset([row])) for row in rows])
        torch.testing.assert_close(alone, reference[rows], atol=2e-6, rtol=1e-5)
        shuffled = np.random.default_rng(0).permutation(len(sequences))[:120]
        logits = model(**sequences.pad(shuffled, processor.pad_token_id)).logits
        torch.testing.assert_close(logits, reference[shuffled], atol=2e-6, rtol=1e-5)
        small = score_sequences(model, processor, sequences, max_batch_tokens=64, max_batch_pairs=7)
        torch.testing.assert_close(small, reference, atol=2e-6, rtol=1e-5)


def test_atlop_head_trains_every_part(tmp_path):
    model, processor, sequences = _packed(tmp_path, segment="markers", freeze_encoder=False, **HEADS["both"])
    model.train()
    batch = sequences.pad(np.arange(40), processor.pad_token_id)
    labels = torch.zeros(40, model.config.num_labels)
    labels[:, 0] = 1.0
    model(**batch, labels=labels).loss.backward()
    parts = {"encoder": model.encoder.encoder, "head": model.classifier.head_extractor}
    parts.update(tail=model.classifier.tail_extractor, bilinear=model.classifier.bilinear)
    for name, part in parts.items():
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters()), name


def _tiles_pair_by_pair(lengths: list[int], documents: list[int]) -> list[list[int]]:
    """The tiles as a loop over pairs cuts them: per document (in order of first pair), its pairs in order, a new
    tile when the next pair would take the tile past PACKED_TILE_TOKENS."""
    tiles = []
    for document in dict.fromkeys(documents):
        current, used = [], 0
        for pair in (p for p, d in enumerate(documents) if d == document):
            if current and used + lengths[pair] > PACKED_TILE_TOKENS:
                tiles.append(current)
                current, used = [], 0
            current.append(pair)
            used += lengths[pair]
        tiles.append(current)
    return tiles


@pytest.mark.parametrize("seed", range(5))
def test_tiles_are_the_greedy_cut_of_each_documents_pairs(seed):
    rng = np.random.default_rng(seed)
    num_pairs = int(rng.integers(1, 300))
    # segment lengths from 1 to past the tile budget; documents interleaved, as a shuffled batch has them
    lengths = rng.integers(1, PACKED_TILE_TOKENS + 40, num_pairs) if seed else np.full(num_pairs, 3)
    documents = rng.integers(0, 4, num_pairs)
    width = int(lengths.max())
    real = torch.arange(width)[None, :] < torch.from_numpy(lengths)[:, None]
    window_document = torch.tensor([0, 0, 1, 2, 2, 2, 3])
    window_keep = torch.ones(len(window_document), 5, dtype=torch.bool)
    window_keep[1, 3:] = False
    tiles = build_pair_tiles(real, torch.from_numpy(documents), window_document, window_keep)
    expected = _tiles_pair_by_pair(lengths.tolist(), documents.tolist())
    flat_pair = torch.repeat_interleave(torch.arange(num_pairs), torch.from_numpy(lengths))
    got = []
    for tile in range(len(tiles)):
        slots = (tiles.token_slots // tiles.tokens.shape[1] == tile).nonzero().squeeze(1)
        got.append(sorted(set(flat_pair[slots].tolist())))
        # a token's keys: its document's real window tokens, then its own pair's tokens in the tile
        pair = got[-1][0]
        windows = (window_document == int(documents[pair])).nonzero().squeeze(1)
        column = int(tiles.token_slots[slots[0]] % tiles.tokens.shape[1])
        keys = tiles.mask[tile, 0, column]
        document_part = keys[: -tiles.tokens.shape[1]].reshape(-1, 5)
        assert document_part[: len(windows)].tolist() == window_keep[windows].tolist()
        assert not document_part[len(windows) :].any()
        assert keys[-tiles.tokens.shape[1] :].sum() == lengths[pair]
    assert sorted(got) == sorted(expected)
    # every real pair token has a slot of its own, and the [CLS] queries cover every pair once
    assert len(set(tiles.token_slots.tolist())) == len(flat_pair)
    assert torch.equal(tiles.tokens.flatten()[tiles.token_slots], torch.arange(len(flat_pair)))
    assert torch.equal(tiles.cls_queries.flatten()[tiles.cls_slots], torch.arange(num_pairs))


def test_greedy_tile_starts_runs_one_step_per_tile():
    lengths = np.array([100, 28, 1, 200, 5, 60, 70, 3])
    document_ends = np.array([5, 5, 5, 5, 5, 8, 8, 8])
    # document 0: [100, 28] fill 128, [1], then [200] alone, [5]; document 1: [60], [70, 3]
    assert np.flatnonzero(greedy_tile_starts(lengths, document_ends, 128)).tolist() == [0, 2, 3, 4, 5, 6]


def test_one_attention_call_per_layer_for_all_windows_and_all_tiles(tmp_path, monkeypatch):
    model, processor, sequences = _packed(tmp_path, segment="names")
    rows = np.arange(len(sequences))  # every pair of the three documents, many tiles, in one batch
    calls = []
    attention = torch.nn.functional.scaled_dot_product_attention

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return attention(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counted)
    with torch.inference_mode():
        model(**sequences.pad(rows, processor.pad_token_id))
    layers = model.config.encoder_config.num_hidden_layers
    assert len(calls) == 2 * layers
    assert calls[1][0] > 3  # the tiles of all three documents in the one call


def test_one_embedding_lookup_a_batch_for_windows_and_pair_segments(tmp_path, monkeypatch):
    # each lookup zero-fills a dense (vocabulary, hidden) gradient of the word embeddings in training
    model, processor, sequences = _packed(tmp_path, segment="markers", freeze_encoder=False)
    embeddings = model.encoder.embeddings
    lookups = []
    forward = embeddings.forward

    def counted(**kwargs):
        lookups.append(kwargs["input_ids"].shape)
        return forward(**kwargs)

    monkeypatch.setattr(embeddings, "forward", counted)
    model.train()
    batch = sequences.pad(np.arange(40), processor.pad_token_id)
    labels = torch.zeros(40, model.config.num_labels)
    labels[:, 0] = 1.0
    model(**batch, labels=labels).loss.backward()
    assert len(lookups) == 1
    pair_tokens = int(batch["pair_attention_mask"].sum())
    assert lookups[0] == (1, batch["input_ids"].numel() + pair_tokens)
    assert embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_changing_one_pair_changes_no_other_pair(tmp_path):
    model, processor, sequences = _packed(tmp_path, segment="names")
    doc_rows = np.flatnonzero(sequences.pair_doc == 0)
    with torch.inference_mode():
        before = model(**sequences.pad(doc_rows, processor.pad_token_id)).logits
        changed = copy.deepcopy(sequences)
        start, length = changed.pairs[doc_rows[3]]
        changed.tokens[start + 1 : start + length] = processor.tokenizer.convert_tokens_to_ids("x")
        after = model(**changed.pad(doc_rows, processor.pad_token_id)).logits
    others = np.arange(len(doc_rows)) != 3
    torch.testing.assert_close(after[others], before[others], atol=0, rtol=0)
    assert (after[3] - before[3]).abs().max() > 1e-4


def test_pair_segments_take_their_one_pair_positions(tmp_path):
    _, processor = tiny_model_and_processor(tmp_path, encoding="packed")
    one_pair = GlobalReProcessor(processor.tokenizer)
    packed, single = processor.encode_document(EXAMPLE_DOCUMENT), one_pair.encode_document(EXAMPLE_DOCUMENT)
    sequences = packed.sequences
    assert packed.pairs == single.pairs and packed.windows == 1 and packed.truncated_pairs == []
    ((window_start, window_length),) = sequences.windows
    for row, (tokens, first) in enumerate(zip(single.input_ids, single.segment_lengths)):
        # the window is the one-pair document segment; the pair's [CLS] comes first, its head and tail follow
        assert sequences.tokens[window_start : window_start + window_length].tolist() == tokens[:first]
        start, length = sequences.pairs[row]
        assert sequences.tokens[start : start + length].tolist() == [tokens[0], *tokens[first:]]
        assert sequences.positions[start : start + length].tolist() == [0, *range(first, len(tokens))]
        assert sequences.types[start : start + length].tolist() == [0] + [1] * (len(tokens) - first)


def test_levitated_markers_take_the_positions_of_the_first_mentions(tmp_path):
    _, processor = tiny_model_and_processor(
        tmp_path, encoding="packed", pair_segment="markers", entity_markers="plain"
    )
    encoding = processor.encode_document(EXAMPLE_DOCUMENT)
    sequences = encoding.sequences
    ((window_start, _),) = sequences.windows
    head_start, tail_start = processor.marker_ids[2:4]
    for row, (head, tail) in enumerate(encoding.pairs):
        start, length = sequences.pairs[row]
        assert sequences.tokens[start : start + length].tolist() == [
            processor.tokenizer.cls_token_id,
            head_start,
            tail_start,
        ]
        for entity, position in zip((head, tail), sequences.positions[start + 1 : start + 3]):
            # the document's entity start marker of that mention stands at that position
            assert sequences.tokens[window_start + position] == processor.marker_ids[0]
            begin, _ = sequences.entities[entity]
            assert position == sequences.mention_columns[begin]


def test_a_long_document_is_encoded_whole_in_windows_and_reported(tmp_path, caplog):
    _, processor = tiny_model_and_processor(tmp_path, encoding="packed", max_seq_length=40)
    document = _documents()[1]
    with caplog.at_level("WARNING"):
        encoding = processor.encode_document(document)
    sequences = encoding.sequences
    assert encoding.windows == len(sequences.windows) > 1 and encoding.truncated_pairs == []
    assert "windows" in encoding.notes[-1] and "windows" in caplog.text
    # every position id, a window's and a pair segment's after the longest window, stays within the budget
    assert sequences.positions.max() < 40 and sequences.positions[sequences.pairs[:, 0]].max() == 0
    # every token of the document is kept, in order, once
    tokens = np.concatenate([sequences.tokens[s + 1 : s + n - 1] for s, n in sequences.windows])
    assert tokens.tolist() == processor.tokenize_document(document).ids


def test_bad_input_fails_as_clearly_as_with_one_pair_sequences(tmp_path):
    _, processor = tiny_model_and_processor(tmp_path, encoding="packed")
    with pytest.raises(DocumentError, match=r"pair \(0, 9\) names an entity outside 0..4"):
        processor.encode_document(EXAMPLE_DOCUMENT, pairs=[(0, 9)])
    broken = copy.deepcopy(EXAMPLE_DOCUMENT)
    broken["vertexSet"][1][0]["pos"] = [5, 40]
    with pytest.raises(DocumentError, match=r"entity 1 \('France'\), mention 0: pos \[5, 40\] is outside"):
        processor.encode_document(broken)
    squeezed = GlobalReProcessor(
        processor.tokenizer, encoding="packed", max_seq_length=16, max_entity_tokens=16
    )
    with pytest.raises(DocumentError, match="leaves no room for the document within max_seq_length=16"):
        squeezed.encode_document(EXAMPLE_DOCUMENT)


def test_packed_inputs_missing_a_field_are_named(tmp_path):
    model, _, sequences = _packed(tmp_path)
    batch = sequences.pad(range(3))
    for missing in ("pair_position_ids", "window_document"):
        with pytest.raises(
            ValueError, match=f"packed inputs \\(pair_input_ids given\\) also need {missing};"
        ):
            model(**{**batch, missing: None})


def test_documents_without_pairs_and_mixed_batches(tmp_path):
    model, processor = tiny_model_and_processor(tmp_path, encoding="packed", pair_types=[["PER", "PER"]])
    outputs = list(iter_document_logits(model, processor, [EXAMPLE_DOCUMENT, _documents()[1]]))
    assert [len(encoding) for _, encoding, _ in outputs] == [0, len(outputs[1][1])]
    assert outputs[0][2].shape == (0, model.config.num_labels)


def test_the_packed_encoding_needs_the_packed_option_for_marker_segments():
    from configuration_globalre import GlobalReConfig

    with pytest.raises(ValueError, match='pair_segment="markers" needs encoding="packed"'):
        GlobalReConfig(pair_segment="markers")


def test_a_packed_model_folder_loads_in_a_fresh_process_and_predicts_the_same(tmp_path):
    settings = {
        "encoding": "packed",
        "pair_segment": "markers",
        "entity_markers": "plain",
        "pooling": "markers",
    }
    model_dir = make_tiny_model_dir(tmp_path / "model", **settings)
    from inference_globalre import load_globalre, predict_documents

    model, processor = load_globalre(model_dir, device="cpu")
    expected = predict_documents(model, processor, [EXAMPLE_DOCUMENT], threshold=0.3)[0]
    (tmp_path / "doc.json").write_text(json.dumps(EXAMPLE_DOCUMENT))
    script = textwrap.dedent(
        f"""
        import json
        import torch
        from transformers import AutoConfig, AutoModel, AutoProcessor, pipeline
        directory, document = {model_dir!r}, json.load(open({str(tmp_path / "doc.json")!r}))
        assert AutoConfig.from_pretrained(directory, trust_remote_code=True).encoding == "packed"
        model = AutoModel.from_pretrained(directory, trust_remote_code=True).eval()
        batch = AutoProcessor.from_pretrained(directory, trust_remote_code=True)(document)
        with torch.no_grad():
            assert model(**batch).logits.shape == (20, model.config.num_labels)
        extractor = pipeline("relation-extraction", model=directory, trust_remote_code=True, device="cpu")
        print(json.dumps(extractor(document, threshold=0.3)))
        """
    )
    result = run_without_project(script, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    triples = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(triples) == len(expected) > 0
    for got, want in zip(triples, expected):
        assert (got["head"], got["tail"], got["relation"]) == (want["head"], want["tail"], want["relation"])
        assert got["score"] == pytest.approx(want["score"], abs=1e-5)


@pytest.mark.parametrize(
    ("encoding", "entity_markers", "pair_segment", "slots"),
    [
        ("pair", "none", "names", ()),
        ("pair", "plain", "names", (0, 1, 2, 3)),
        ("packed", "typed", "names", (0, 1)),
        ("packed", "none", "markers", (2, 3)),
        ("packed", "plain", "markers", (0, 1, 2, 3)),
    ],
)
def test_the_marker_tokens_each_encoding_holds(tmp_path, encoding, entity_markers, pair_segment, slots):
    """The rule that the model's recorded marker ids, the vocabulary check and `--freeze_word_embeddings` read is
    the encodings' own: the marker ids in the encoded tokens are exactly the ones it names, and those are the rows
    the frozen embeddings train."""
    from globalre_training.model import freeze_word_embeddings

    model, processor = tiny_model_and_processor(
        tmp_path, encoding=encoding, pair_segment=pair_segment, entity_markers=entity_markers
    )
    assert marker_slots_in_inputs(encoding, entity_markers, pair_segment) == slots == processor.marker_slots
    expected = sorted({processor.marker_ids[slot] for slot in slots})
    assert processor.marker_ids_in_inputs() == expected
    sequences = processor.encode_document(EXAMPLE_DOCUMENT).sequences
    held = {int(token) for token in sequences.tokens if int(token) in set(processor.marker_ids)}
    assert sorted(held) == expected
    freeze_word_embeddings(model, processor)
    assert model.get_input_embeddings().trainable_ids == expected


def test_marker_tokens_missing_from_the_vocabulary_are_refused_where_the_inputs_hold_them(tmp_path):
    """Without entity markers the levitated `markers` pair segment still reads two marker tokens: absent from the
    tokenizer they would both become [UNK], the head and the tail told apart by their positions only. Tokens the
    inputs never hold (the packed document's mentions take the first two) may be missing."""
    tokenizer = tiny_tokenizer()
    missing_last_two = ["[unused0]", "[unused1]", "[H]", "[T]"]
    with pytest.raises(ValueError, match=r"\['\[H\]', '\[T\]'\] are not in the tokenizer's vocabulary"):
        GlobalReProcessor(
            tokenizer,
            encoding="packed",
            pair_segment="markers",
            entity_markers="none",
            marker_tokens=missing_last_two,
        )
    with pytest.raises(ValueError, match=r"\['\[H\]', '\[T\]'\] are not in the tokenizer's vocabulary"):
        GlobalReProcessor(tokenizer, entity_markers="plain", marker_tokens=missing_last_two)
    processor = GlobalReProcessor(
        tokenizer,
        encoding="packed",
        pair_segment="names",
        entity_markers="plain",
        marker_tokens=missing_last_two,
    )
    assert processor.marker_slots == (0, 1)


def test_marker_tokens_and_recorded_marker_ids_must_be_four(tmp_path):
    tokenizer = tiny_tokenizer()
    with pytest.raises(ValueError, match=r"marker_tokens must hold four tokens"):
        GlobalReProcessor(tokenizer, encoding="packed", pair_segment="markers", marker_tokens=["[unused0]"])
    processor = GlobalReProcessor(tokenizer, encoding="packed", pair_segment="markers")
    # a hand-edited config.json read by GlobalReProcessor.from_pretrained reaches this check as a raw list
    with pytest.raises(ValueError, match=r"lists 3 marker_token_ids, not four"):
        processor.check_fits_encoder(len(tokenizer), processor.marker_ids[:3])
