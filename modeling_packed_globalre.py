# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The packed encoder of GlobalRE (`encoding="packed"`): every document of a batch encoded once, every entity pair's
short segment attending to its document and to itself, with the weights of an ordinary transformers `BertModel`.

A pair's tokens see exactly what they would see in the one packed sequence
`[CLS] document [SEP] [CLS] head [SEP] tail [SEP] [CLS] head [SEP] tail [SEP] ...` under a mask that keeps the
document's tokens to their window and each pair's tokens to their document and their own segment; that mask is
never materialised. Once per batch, before the layers, a document's pairs are cut into attention tiles and the
tiles' index tables and masks are built with whole-array operations (`build_pair_tiles`); each layer then makes one
attention call for all the windows of the batch and one for all its tiles (`GlobalRePackedEncoder`), with no copy
between host and device inside the layer loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import BertModel
from transformers.utils import ModelOutput

# Tokens of pair segments per attention tile of the packed encoder: a tile's queries attend to their document's keys
# and the tile's own keys, so a larger tile repeats the document's keys less and wastes more scores on other pairs'
# tokens (masked); about 128 was fastest on CPU (MiniLM, Re-DocRED).
PACKED_TILE_TOKENS = 128


@dataclass
class PackedInputs:
    """
    The packed encoding of a batch, as [`GlobalReProcessor`] builds it (`GlobalReForRelationExtraction.forward`
    describes each field).

    Args:
        input_ids, attention_mask, token_type_ids, position_ids (`torch.LongTensor` of shape
            `(num_windows, window_length)`):
            The windows `[CLS] document [SEP]` of the batch's documents and their padding mask (1 for real tokens),
            token types and position ids.
        window_document (`torch.LongTensor` of shape `(num_windows,)`):
            The document (0, 1, ... within the batch) of each window.
        pair_input_ids, pair_attention_mask, pair_token_type_ids, pair_position_ids (`torch.LongTensor` of shape
            `(num_pairs, segment_length)`):
            Each pair's own segment, its padding mask, token types and the position ids of its one-pair sequence.
        pair_document (`torch.LongTensor` of shape `(num_pairs,)`):
            The document of each pair, as in `window_document`.
    """

    input_ids: torch.LongTensor
    attention_mask: torch.LongTensor
    token_type_ids: torch.LongTensor
    position_ids: torch.LongTensor
    window_document: torch.LongTensor
    pair_input_ids: torch.LongTensor
    pair_attention_mask: torch.LongTensor
    pair_token_type_ids: torch.LongTensor
    pair_position_ids: torch.LongTensor
    pair_document: torch.LongTensor


@dataclass
class PairTiles:
    """
    The attention tiles of a packed batch, as index tables on the batch's device: every tile of every document in
    one table, padded to the batch's largest tile and its document with the most windows, so that one attention
    call per layer covers them all.

    Args:
        windows (`torch.LongTensor` of shape `(num_tiles, document_windows)`):
            The window rows of each tile's document (0 for padding, masked by `mask`), in window order.
        tokens (`torch.LongTensor` of shape `(num_tiles, tile_tokens)`):
            The flat index of each tile token among the batch's real pair tokens (0 for padding, masked by `mask`).
        mask (`torch.BoolTensor` of shape `(num_tiles, 1, tile_tokens, document_windows x window_length +
            tile_tokens)`):
            Which keys a tile token attends to: its document's real tokens and its own pair's tokens.
        token_slots (`torch.LongTensor` of shape `(pair_tokens,)`):
            Where each real pair token stands in the flattened tiles (tile x tile_tokens + column).
        cls_queries (`torch.LongTensor` of shape `(num_tiles, pairs_per_tile)`):
            The pairs of each tile (0 for padding), whose `[CLS]` states a last layer that computes those only reads.
        cls_mask (`torch.BoolTensor` of shape `(num_tiles, 1, pairs_per_tile, document_windows x window_length +
            tile_tokens)`):
            The keys of each pair's `[CLS]` query.
        cls_slots (`torch.LongTensor` of shape `(num_pairs,)`):
            Where each pair's `[CLS]` query stands in the flattened `cls_queries`.
        cls_tokens (`torch.LongTensor` of shape `(num_pairs,)`):
            The flat index of every pair's `[CLS]` among the real pair tokens, in pair order.
    """

    windows: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor
    token_slots: torch.Tensor
    cls_queries: torch.Tensor
    cls_mask: torch.Tensor
    cls_slots: torch.Tensor
    cls_tokens: torch.Tensor

    def __len__(self) -> int:
        return len(self.tokens)


def greedy_tile_starts(lengths: np.ndarray, document_ends: np.ndarray, budget: int) -> np.ndarray:
    """Where the tiles start when each document's pairs, in order, are cut greedily into tiles of at most `budget`
    tokens (a longer pair gets a tile of its own).

    Args:
        lengths (`np.ndarray` of shape `(num_pairs,)`): the pairs' token counts, documents one after another.
        document_ends (`np.ndarray` of shape `(num_pairs,)`): for each pair, the position after its document's
            last pair.

    Returns a boolean `(num_pairs,)` array, true for every pair that opens a tile. The cut is sequential within a
    document, so it runs one step per tile for all documents at once (a binary search for each tile's end), not one
    step per pair."""
    ends = np.concatenate([[0], np.cumsum(lengths)])
    # the end of the tile that pair i would open: the most pairs whose tokens fit the budget, at least one
    following = np.searchsorted(ends, ends[:-1] + budget, side="right") - 1
    following = np.minimum(np.maximum(following, np.arange(1, len(lengths) + 1)), document_ends)
    starts = np.zeros(len(lengths), dtype=bool)
    first = np.flatnonzero(np.r_[True, document_ends[1:] != document_ends[:-1]]) if len(lengths) else []
    frontier = np.asarray(first, dtype=np.int64)
    while len(frontier):
        starts[frontier] = True
        limit = document_ends[frontier]
        frontier = following[frontier]
        frontier = frontier[frontier < limit]
    return starts


def build_pair_tiles(
    real: torch.Tensor, pair_document: torch.Tensor, window_document: torch.Tensor, window_keep: torch.Tensor
) -> PairTiles:
    """The attention tiles of a packed batch: per document, its pairs in order, cut greedily into tiles of at most
    `PACKED_TILE_TOKENS` real tokens (a longer pair gets a tile of its own, `greedy_tile_starts`), with the masks
    that let a token see its document's real tokens and its own pair's.

    The pair lengths and documents are read on the host once (one copy per batch); the index tables are built
    there with whole-array operations and copied to the device once; the masks are built on the device. Nothing
    here runs inside the encoder's layer loop.

    Args:
        real (`torch.BoolTensor` of shape `(num_pairs, segment_length)`): the pair segments' real tokens.
        pair_document (`torch.LongTensor` of shape `(num_pairs,)`): the document of each pair.
        window_document (`torch.LongTensor` of shape `(num_windows,)`): the document of each window.
        window_keep (`torch.BoolTensor` of shape `(num_windows, window_length)`): the windows' real tokens.
    """
    device = real.device
    lengths_device = real.sum(dim=1)
    cls_tokens = torch.cumsum(lengths_device, 0) - lengths_device  # each pair's first flat token (its [CLS])
    lengths = lengths_device.cpu().numpy().astype(np.int64)
    documents = pair_document.cpu().numpy().astype(np.int64)
    window_documents = window_document.cpu().numpy().astype(np.int64)
    num_pairs = len(lengths)

    # the pairs grouped by document, each document's pairs in pair order
    order = np.argsort(documents, kind="stable")
    sorted_lengths, sorted_documents = lengths[order], documents[order]
    boundaries = np.flatnonzero(np.r_[sorted_documents[1:] != sorted_documents[:-1], True]) + 1
    document_ends = np.repeat(boundaries, np.diff(np.r_[0, boundaries])) if num_pairs else boundaries[:0]
    opens = greedy_tile_starts(sorted_lengths, document_ends, PACKED_TILE_TOKENS)
    tile_of = np.cumsum(opens) - 1  # the tile of each pair (sorted order)
    first_pair = np.flatnonzero(opens)  # the first pair (sorted order) of each tile
    ends = np.concatenate([[0], np.cumsum(sorted_lengths)])
    column = ends[:-1] - ends[first_pair][tile_of]  # the tile column of each pair's first token
    rank = np.arange(num_pairs) - first_pair[tile_of]  # each pair's place in its tile
    tile_tokens = int((column + sorted_lengths).max()) if num_pairs else 1
    pairs_per_tile = int(rank.max()) + 1 if num_pairs else 1
    num_tiles = len(first_pair)

    # back to pair order; then each real pair token's slot in the flattened tiles
    pair_tile, pair_column, pair_rank = (np.empty(num_pairs, dtype=np.int64) for _ in range(3))
    pair_tile[order], pair_column[order], pair_rank[order] = tile_of, column, rank
    token_pair = np.repeat(np.arange(num_pairs), lengths)
    within = np.arange(len(token_pair)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    token_slots = pair_tile[token_pair] * tile_tokens + pair_column[token_pair] + within
    tokens = np.zeros(num_tiles * tile_tokens, dtype=np.int64)
    tokens[token_slots] = np.arange(len(token_pair))
    owner = np.full(
        num_tiles * tile_tokens, -1, dtype=np.int64
    )  # the pair of each tile token, -1 for padding
    owner[token_slots] = token_pair
    cls_slots = pair_tile * pairs_per_tile + pair_rank
    cls_owner = np.full(num_tiles * pairs_per_tile, -1, dtype=np.int64)  # the pair of each [CLS] query
    cls_owner[cls_slots] = np.arange(num_pairs)

    # each tile's document windows, in window order, -1 for padding
    num_documents = int(max(window_documents.max(initial=-1), documents.max(initial=-1))) + 1
    window_rank, counts = (
        values.numpy() for values in rank_in_groups(torch.from_numpy(window_documents), num_documents)
    )
    document_windows = np.full((num_documents, max(int(counts.max(initial=0)), 1)), -1, dtype=np.int64)
    document_windows[window_documents, window_rank] = np.arange(len(window_documents))
    tile_windows = document_windows[sorted_documents[first_pair]]

    def on_device(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(device)

    tile_windows, owner = on_device(tile_windows), on_device(owner).view(num_tiles, tile_tokens)
    cls_owner = on_device(cls_owner).view(num_tiles, pairs_per_tile)
    document_keys = (window_keep[tile_windows.clamp(min=0)] & (tile_windows >= 0)[..., None]).flatten(1)
    real_keys = owner[:, None, :] >= 0
    own = (owner[:, :, None] == owner[:, None, :]) & real_keys
    cls_own = (cls_owner[:, :, None] == owner[:, None, :]) & real_keys  # padding queries (-1) own no key
    return PairTiles(
        windows=tile_windows.clamp(min=0),
        tokens=on_device(tokens).view(num_tiles, tile_tokens),
        mask=torch.cat([document_keys[:, None].expand(-1, tile_tokens, -1), own], dim=2)[:, None],
        token_slots=on_device(token_slots),
        cls_queries=cls_owner.clamp(min=0),
        cls_mask=torch.cat([document_keys[:, None].expand(-1, pairs_per_tile, -1), cls_own], dim=2)[:, None],
        cls_slots=on_device(cls_slots),
        cls_tokens=cls_tokens,
    )


@dataclass
class PackedEncoderOutput(ModelOutput):
    """
    Output of [`GlobalRePackedEncoder`].

    Args:
        window_states (`torch.FloatTensor` of shape `(num_windows, window_length, hidden_size)`):
            The windows' last hidden states (with `outputs="cls"`, those of the layer before).
        pair_states (`torch.FloatTensor` of shape `(num_pairs, segment_length, hidden_size)`):
            The pair segments' last hidden states, zero at padding; `(num_pairs, 1, hidden_size)`, the `[CLS]`
            states only, unless `outputs="all"`.
        attention_rows (`torch.LongTensor` of shape `(num_rows,)`, *optional*):
            The window tokens (flat index window x window_length + position) whose attention was asked for.
        row_attention (`torch.FloatTensor` of shape `(num_rows, num_heads, window_length)`, *optional*):
            Their last layer's attention probabilities over their own window's tokens, per head.
    """

    window_states: torch.FloatTensor | None = None
    pair_states: torch.FloatTensor | None = None
    attention_rows: torch.LongTensor | None = None
    row_attention: torch.FloatTensor | None = None


class _BertLayerSteps:
    """The parts of one transformers `BertLayer` around its self-attention, for an attention computed elsewhere.

    This is the packed encoder's only dependence on BERT's layer internals (transformers' `modeling_bert.py`):
    `layer.attention.self.query` / `.key` / `.value` (the projections, `(..., hidden)` to `(..., hidden)`),
    `.scaling` (the score scale, head size ** -0.5) and `.dropout.p` (the attention-probability dropout), then
    `layer.attention.output` (`BertSelfOutput`: projection, dropout, residual, layer norm) and
    `layer.feed_forward_chunk` (`BertIntermediate` and `BertOutput`). `BertLayer.forward` cannot be used itself:
    its attention takes queries, keys and values from the same tokens, where a pair's queries attend to its
    document's keys of the same layer."""

    def __init__(self, layer: nn.Module, num_heads: int):
        self.layer = layer
        self.attention = layer.attention.self
        self.num_heads = num_heads

    @property
    def scaling(self) -> float:
        return self.attention.scaling

    def dropout(self, training: bool) -> float:
        return self.attention.dropout.p if training else 0.0

    def heads(self, states: torch.Tensor) -> torch.Tensor:
        """`(..., hidden)` to `(..., heads, head_size)`."""
        return states.unflatten(-1, (self.num_heads, -1))

    def query(self, states: torch.Tensor) -> torch.Tensor:
        return self.heads(self.attention.query(states))

    def key(self, states: torch.Tensor) -> torch.Tensor:
        return self.heads(self.attention.key(states))

    def value(self, states: torch.Tensor) -> torch.Tensor:
        return self.heads(self.attention.value(states))

    def run(self, context: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """The rest of the layer given its attention: `context` `(..., heads x head_size)` is the attention output
        of the tokens whose input states are `states` `(..., hidden)`; returns their output states
        `(..., hidden)`."""
        return self.layer.feed_forward_chunk(self.layer.attention.output(context, states))


def attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor,
    dropout_p: float,
    scale: float,
) -> torch.Tensor:
    """`scaled_dot_product_attention` (queries, keys and values `(batch, heads, length, head_size)`, a boolean mask
    broadcast to `(batch, heads, queries, keys)`), in float32 on a CPU: PyTorch 2.13's fused CPU attention is
    slower in bf16 than in float32 (a packed training step under bf16 autocast spent 123 ms in it against 66 ms in
    float32, bench/RESULTS.md, "bf16 training on CPU"), while the linear layers around it gain from bf16; so
    under CPU autocast (training with `--mixed_precision bf16`, or `bf16=True` inference) it runs in float32.
    Returns the attention output in the queries' dtype."""
    if query.device.type == "cpu" and query.dtype in (torch.bfloat16, torch.float16):
        with torch.autocast("cpu", enabled=False):
            context = nn.functional.scaled_dot_product_attention(
                query.float(),
                key.float(),
                value.float(),
                attn_mask=attn_mask,
                dropout_p=dropout_p,
                scale=scale,
            )
        return context.to(query.dtype)
    return nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale
    )


class GlobalRePackedEncoder:
    """
    A transformers `BertModel` run over the packed encoding: every document once, every pair's short segment
    attending to its document and to itself.

    Layer by layer, the document windows are ordinary BERT sequences (a token attends within its window, so a
    document's states never depend on pairs: `window_attention`); a pair's tokens attend to every token of its
    document's windows, through those windows' keys and values of the same layer, and to their own segment, never
    to another pair's (`pair_tile_attention`). This is the attention of one packed sequence `[CLS] document [SEP]
    [CLS] head [SEP] tail [SEP] [CLS] head [SEP] tail [SEP] ...` under that mask, computed without materialising
    it: the document is encoded once however many pairs follow it, and the pairs' tokens go through the linear
    layers without their padding. For the attention, a document's pairs are cut into tiles of about
    `PACKED_TILE_TOKENS` tokens; a tile's queries attend to the document's keys and the tile's own keys (masked to
    their pair). Each layer makes one `scaled_dot_product_attention` call for all the windows of the batch and one
    for all its tiles (the batch's documents padded together). The weights are the encoder's own
    (embeddings, attention projections, feed-forward blocks, layer norms, dropouts): this object owns no parameter,
    so a model's state dict is the same whichever encoding it runs.

    Args:
        encoder (`BertModel`): the encoder whose weights are used.
    """

    def __init__(self, encoder: BertModel):
        self.encoder = encoder

    def __call__(
        self,
        inputs: PackedInputs,
        outputs: str = "all",
        training: bool = False,
        attention_rows: torch.LongTensor | None = None,
    ) -> PackedEncoderOutput:
        """Encodes a packed batch.

        Args:
            inputs (`PackedInputs`): the windows and the pair segments.
            outputs (`str`): which last states are needed, so that no more is computed: `"all"`;
                `"cls_and_documents"` (the last layer of the pairs for their `[CLS]` only); `"cls"` (nor the
                windows' last layer).
            training (`bool`): whether the attention probabilities get dropout (the layers' dropout modules follow
                their own training mode).
            attention_rows (`torch.LongTensor` of shape `(num_rows,)`, *optional*): window tokens (flat index
                window x window_length + position, ascending) whose last layer's attention probabilities are
                returned too (`row_attention`), without dropout.
        """
        bert = self.encoder
        real = inputs.pair_attention_mask.bool()
        num_windows, window_length = inputs.input_ids.shape
        # One lookup for the windows' tokens and the pairs' real tokens: the word embeddings' gradient is a dense
        # (vocabulary, hidden) tensor zero-filled once per lookup, which cost a CPU step more than any other fill.
        joined = {
            name: torch.cat(
                [getattr(inputs, name).flatten(), getattr(inputs, f"pair_{name}")[real]]
            ).unsqueeze(0)
            for name in ("input_ids", "token_type_ids", "position_ids")
        }
        embedded = bert.embeddings(**joined)[0]
        documents = embedded[: num_windows * window_length].view(num_windows, window_length, -1)
        tokens = embedded[num_windows * window_length :]  # the pairs' real tokens, in pair order
        num_pairs, width = inputs.pair_input_ids.shape
        window_keep = inputs.attention_mask.bool()
        tiles = build_pair_tiles(real, inputs.pair_document, inputs.window_document, window_keep)
        layers = bert.encoder.layer
        row_attention = None
        if attention_rows is not None:  # each row's window and place in it, before the layers (a host copy)
            row_window = attention_rows // window_keep.shape[1]
            row_rank, row_counts = rank_in_groups(row_window, len(window_keep))
            rows_per_window = int(row_counts.max()) if len(attention_rows) else 0
        for number, layer in enumerate(layers):
            steps = _BertLayerSteps(layer, bert.config.num_attention_heads)
            cls_only = number == len(layers) - 1 and outputs != "all"
            key, value = steps.key(documents), steps.value(documents)  # (windows, tokens, heads, head size)
            if attention_rows is not None and number == len(layers) - 1:
                row_attention = self.row_attention(
                    steps, documents, key, window_keep, attention_rows, row_window, row_rank, rows_per_window
                )
            if not (cls_only and outputs == "cls"):
                context = self.window_attention(steps, documents, key, value, window_keep, training)
                documents = steps.run(context, documents)
            queries = tokens[tiles.cls_tokens] if cls_only else tokens
            pair_context = self.pair_tile_attention(
                steps, queries, tokens, key, value, tiles, cls_only, training
            )
            tokens = steps.run(pair_context, queries)
        attention = {"attention_rows": attention_rows, "row_attention": row_attention}
        if outputs == "all":
            grid = tokens.new_zeros(num_pairs, width, tokens.shape[-1])
            grid[real] = tokens
            return PackedEncoderOutput(window_states=documents, pair_states=grid, **attention)
        return PackedEncoderOutput(window_states=documents, pair_states=tokens[:, None], **attention)

    @staticmethod
    def row_attention(
        steps: _BertLayerSteps,
        documents: torch.Tensor,
        key: torch.Tensor,
        window_keep: torch.Tensor,
        rows: torch.Tensor,
        window: torch.Tensor,
        rank: torch.Tensor,
        rows_per_window: int,
    ) -> torch.Tensor:
        """The attention probabilities (no dropout) of some window tokens over their window in this layer:
        `documents` `(num_windows, window_length, hidden)` the layer's input states, `key` their keys; `rows`
        `(num_rows,)` flat indices, `window` and `rank` each row's window and place among that window's rows
        (`rank_in_groups`), at most `rows_per_window` in one window. The queries are gathered per window
        (padded to the window with the most), so the scores cost rows x window_length, not window_length
        squared. Returns `(num_rows, heads, window_length)`."""
        query = steps.query(documents.flatten(0, 1)[rows])  # (rows, heads, head size)
        grid = query.new_zeros(len(window_keep), rows_per_window, *query.shape[1:])
        grid[window, rank] = query
        scores = torch.einsum("wrhd,wlhd->whrl", grid, key) * steps.scaling
        scores = scores.masked_fill(~window_keep[:, None, None, :], torch.finfo(scores.dtype).min)
        return scores.softmax(dim=-1)[window, :, rank]

    @staticmethod
    def window_attention(
        steps: _BertLayerSteps,
        documents: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        window_keep: torch.Tensor,
        training: bool,
    ) -> torch.Tensor:
        """Ordinary self-attention within each window: `documents` `(num_windows, window_length, hidden)`, their
        `key` and `value` `(num_windows, window_length, heads, head_size)`, `window_keep` the windows' real tokens.
        Returns the attention output `(num_windows, window_length, hidden)`."""
        context = attention(
            steps.query(documents).transpose(1, 2),
            key.transpose(1, 2),
            value.transpose(1, 2),
            attn_mask=window_keep[:, None, None, :],
            dropout_p=steps.dropout(training),
            scale=steps.scaling,
        )
        return context.transpose(1, 2).flatten(2)

    @staticmethod
    def pair_tile_attention(
        steps: _BertLayerSteps,
        queries: torch.Tensor,
        tokens: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        tiles: PairTiles,
        cls_only: bool,
        training: bool,
    ) -> torch.Tensor:
        """The pair segments' attention to their document and to themselves: one attention call for all tiles
        of the batch, each tile's keys its document's (padded to the batch's document with the most windows) and
        its own tokens'.

        Args:
            queries (`torch.FloatTensor` of shape `(num_queries, hidden)`): the states of the querying tokens: every
                real pair token, or with `cls_only` every pair's `[CLS]`.
            tokens (`torch.FloatTensor` of shape `(pair_tokens, hidden)`): every real pair token, in pair order.
            key, value (`torch.FloatTensor` of shape `(num_windows, window_length, heads, head_size)`): the
                windows' keys and values of the same layer.
            tiles (`PairTiles`): the tiles from `build_pair_tiles`.

        Returns the attention output `(num_queries, hidden)`.
        """
        pair_query = steps.query(queries)
        pair_key, pair_value = steps.key(tokens), steps.value(tokens)
        if not len(tiles):
            return pair_query.new_zeros(pair_query.shape).flatten(1)
        tile_key = torch.cat([key[tiles.windows].flatten(1, 2), pair_key[tiles.tokens]], dim=1)
        tile_value = torch.cat([value[tiles.windows].flatten(1, 2), pair_value[tiles.tokens]], dim=1)
        context = attention(
            pair_query[tiles.cls_queries if cls_only else tiles.tokens].transpose(1, 2),
            tile_key.transpose(1, 2),
            tile_value.transpose(1, 2),
            attn_mask=tiles.cls_mask if cls_only else tiles.mask,
            dropout_p=steps.dropout(training),
            scale=steps.scaling,
        ).transpose(1, 2)
        pair_context = context.flatten(0, 1)[tiles.cls_slots if cls_only else tiles.token_slots]
        return pair_context.flatten(1)


def packed_token_mean(output: PackedEncoderOutput, inputs: PackedInputs) -> torch.Tensor:
    """The mean of the states of the tokens each pair's one-pair sequence would hold: its document's windows' and
    its own segment's real tokens. Needs `outputs="all"`. Shape `(num_pairs, hidden)`."""
    documents, pairs = output.window_states, output.pair_states
    window_mask = inputs.attention_mask.to(documents.dtype).unsqueeze(-1)
    num_documents = int(inputs.window_document.max()) + 1
    width = documents.shape[-1]
    document_sum = documents.new_zeros(num_documents, width)
    document_sum.index_add_(0, inputs.window_document, (documents * window_mask).sum(dim=1))
    document_count = documents.new_zeros(num_documents)
    document_count.index_add_(0, inputs.window_document, window_mask.sum(dim=(1, 2)))
    pair_mask = inputs.pair_attention_mask.to(pairs.dtype).unsqueeze(-1)
    total = document_sum[inputs.pair_document] + (pairs * pair_mask).sum(dim=1)
    count = document_count[inputs.pair_document] + pair_mask.sum(dim=(1, 2))
    return total / count.clamp(min=1.0).unsqueeze(-1)


def rank_in_groups(groups: torch.Tensor, num_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each item's place among the items of its group, in their order: `groups` `(num_items,)` group ids below
    `num_groups`. Returns the ranks `(num_items,)` and each group's size `(num_groups,)`."""
    order = torch.argsort(groups, stable=True)
    counts = torch.bincount(groups, minlength=num_groups)
    rank = torch.empty_like(groups)
    rank[order] = torch.arange(len(groups), device=groups.device) - (counts.cumsum(0) - counts)[groups[order]]
    return rank, counts


def localized_context(
    output: PackedEncoderOutput,
    inputs: PackedInputs,
    head_mentions: torch.Tensor,
    tail_mentions: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ATLOP's localized context pooling (Zhou et al., 2021, section "Localized Context Pooling") over the packed
    encoding: for each pair, the last layer's attention of the head's mention markers over their document's
    tokens, averaged over those mentions, times the tail's (per attention head), averaged over the attention heads
    and normalised to sum to 1, weights the document's last hidden states. A document of several windows is read
    as their concatenation (a marker attends within its own window only).

    Args:
        output (`PackedEncoderOutput`): the encoder's output with `row_attention` for every mention marker in
            `head_mentions` and `tail_mentions`, and the windows' last states.
        inputs (`PackedInputs`): the batch (`window_document`, `pair_document`).
        head_mentions, tail_mentions (`torch.LongTensor` of shape `(num_pairs, max_mentions)`): flat indices of
            the head's and the tail's mention start markers, -1 padded.

    Returns the context `(num_pairs, hidden_size)` in the states' dtype, and the weights `(num_pairs,
    document_windows x window_length)` that made it, in float32 (both computed in float32): a pair's weights over its
    document's windows side by side in window order (`document_window_slots`), padded to the batch's document with the
    most windows. Zero for a pair whose head or tail has no marker left, or whose head and tail markers never
    share a window.
    """
    num_pairs = len(head_mentions)
    rows = output.attention_rows
    if rows is None or not len(rows) or not num_pairs:
        states = output.window_states
        return states.new_zeros(num_pairs, states.shape[-1]), states.new_zeros(
            num_pairs, 0, dtype=torch.float32
        )
    # in float32 whatever the autocast: the normalised weights are small (about 1 / document tokens)
    with torch.autocast(output.window_states.device.type, enabled=False):
        context, weights = _localized_context(
            output.window_states.float(),
            rows,
            output.row_attention.float(),
            inputs,
            head_mentions,
            tail_mentions,
        )
    return context.to(output.window_states.dtype), weights


def document_window_slots(
    window_document: torch.Tensor, pair_document: torch.Tensor
) -> tuple[int, torch.Tensor, int]:
    """Where each window stands when a batch's documents are laid out with their windows side by side, padded to
    the document with the most windows (the layout of `localized_context`'s weights): the number of documents, each
    window's place in its document `(num_windows,)`, and the most windows of a document."""
    num_documents = int(torch.maximum(window_document.max(), pair_document.max())) + 1
    window_rank, counts = rank_in_groups(window_document, num_documents)
    return num_documents, window_rank, int(counts.max())


def _localized_context(
    states: torch.Tensor,
    rows: torch.Tensor,
    attention: torch.Tensor,
    inputs: PackedInputs,
    head_mentions: torch.Tensor,
    tail_mentions: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    _, length, hidden = states.shape
    num_pairs = len(head_mentions)
    documents = inputs.window_document
    num_documents, window_rank, most_windows = document_window_slots(documents, inputs.pair_document)
    document_states = states.new_zeros(num_documents, most_windows, length, hidden)
    document_states[documents, window_rank] = states
    heads = attention.shape[1]
    row_grid = attention.new_zeros(len(rows), heads, most_windows, length)
    row_grid[torch.arange(len(rows), device=rows.device), :, window_rank[rows // length]] = attention
    row_grid = row_grid.flatten(1)

    # the mean over an entity's markers, once per distinct mention list (an entity; those with no marker left
    # share one): all n (n - 1) pairs of a document have n entities, and the (entities x rows) averaging matrix
    # multiplies every row of the batch, other documents' included
    width = max(head_mentions.shape[1], tail_mentions.shape[1])
    sides = (head_mentions, tail_mentions)
    mention_lists = torch.cat(
        [nn.functional.pad(side, (0, width - side.shape[1]), value=-1) for side in sides]
    )
    entities, entity_of = torch.unique(mention_lists, dim=0, return_inverse=True)
    valid = (entities >= 0).to(attention.dtype)
    slots = torch.searchsorted(rows, entities.clamp(min=0))
    weights = attention.new_zeros(len(entities), len(rows)).scatter_add_(1, slots, valid)
    weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
    entity_attention = (weights @ row_grid).view(len(entities), heads, -1)  # (entities, heads, tokens)
    head_of, tail_of = entity_of[:num_pairs], entity_of[num_pairs:]
    pair_weights = (entity_attention[head_of] * entity_attention[tail_of]).mean(dim=1)
    pair_weights = pair_weights / (pair_weights.sum(dim=1, keepdim=True) + 1e-5)
    # one product per document for its pairs, (documents, its pairs, tokens) x (documents, tokens, hidden)
    pair_document = inputs.pair_document
    pair_rank, pair_counts = rank_in_groups(pair_document, num_documents)
    grouped = pair_weights.new_zeros(num_documents, int(pair_counts.max()), pair_weights.shape[1])
    grouped[pair_document, pair_rank] = pair_weights
    context = torch.bmm(grouped, document_states.flatten(1, 2))
    return context[pair_document, pair_rank], pair_weights


def sentence_weights(
    token_weights: torch.Tensor,
    token_sentences: torch.Tensor,
    window_document: torch.Tensor,
    pair_document: torch.Tensor,
    num_sentences: int,
) -> torch.Tensor:
    """Each pair's token weights summed per sentence of its document: DREEAM's sentence importance (Ma et al.,
    EACL 2023, "DREEAM: Guiding Attention with Evidence for Improving Document-Level Relation Extraction"), from
    the weights of ATLOP's localized context pooling.

    Args:
        token_weights (`torch.FloatTensor` of shape `(num_pairs, document_windows x window_length)`): the weights
            that `localized_context` returns (a pair's document's windows side by side, in window order).
        token_sentences (`torch.LongTensor` of shape `(num_windows, window_length)`): the sentence of each window
            token within its document, -1 for `[CLS]`, `[SEP]` and padding (`PackedSequences.pad(...,
            token_sentences=True)`).
        window_document, pair_document (`torch.LongTensor` of shape `(num_windows,)` and `(num_pairs,)`): the
            document of each window and of each pair, as `PackedInputs` holds them.
        num_sentences (`int`): the width of the result, above every sentence id in `token_sentences` (at least
            the number of sentences of the batch's longest document; not checked here, where it would cost a
            device-to-host copy a step: a smaller width is an index error).

    Returns `(num_pairs, num_sentences)` in float32: the weight of the tokens of each sentence (`[CLS]` and `[SEP]`
    belong to none, so a row sums to at most 1).
    """
    num_pairs = len(token_weights)
    if not num_pairs or not token_weights.shape[1]:
        return token_weights.new_zeros(num_pairs, num_sentences)
    num_documents, window_rank, most_windows = document_window_slots(window_document, pair_document)
    grid = token_sentences.new_full((num_documents, most_windows, token_sentences.shape[1]), -1)
    grid[window_document, window_rank] = token_sentences
    pair_sentences = grid.flatten(1)[pair_document]  # (pairs, tokens), the layout of token_weights
    if pair_sentences.shape != token_weights.shape:
        raise ValueError(
            f"sentence_weights: token_weights {tuple(token_weights.shape)} do not match the batch's windows "
            f"({tuple(pair_sentences.shape)} for its pairs)"
        )
    inside = pair_sentences >= 0
    weights = token_weights.float() * inside
    return weights.new_zeros(num_pairs, num_sentences).scatter_add_(1, pair_sentences.clamp(min=0), weights)


def window_token_states(
    output: PackedEncoderOutput, flat_index: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The window states at flat indices (window x window_length + position), -1 padded: `flat_index`
    `(num_pairs, n)` gives states `(num_pairs, n, hidden)` and their mask `(num_pairs, n)`."""
    tokens = output.window_states.reshape(-1, output.window_states.shape[-1])
    return tokens[flat_index.clamp(min=0)], flat_index >= 0


__all__ = [
    "PACKED_TILE_TOKENS",
    "GlobalRePackedEncoder",
    "PackedEncoderOutput",
    "PackedInputs",
    "PairTiles",
    "build_pair_tiles",
    "document_window_slots",
    "greedy_tile_starts",
    "localized_context",
    "packed_token_mean",
    "rank_in_groups",
    "sentence_weights",
    "window_token_states",
]
