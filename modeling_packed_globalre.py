# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The packed encoder of GlobalRE (`encoding="packed"`): every document of a batch encoded once, every entity pair's
short segment attending to its document and to itself, with the weights of an ordinary transformers `BertModel`.

A pair's tokens see exactly what they would see in the one packed sequence
`[CLS] document [SEP] [CLS] head [SEP] tail [SEP] [CLS] head [SEP] tail [SEP] ...` under a mask that keeps the
document's tokens to their window and each pair's tokens to their document and their own segment; that mask is
never materialised. The host side cuts a document's pairs into attention tiles (`build_pair_tiles`); the device
side runs the encoder's layers over windows and tiles (`GlobalRePackedEncoder`)."""

from __future__ import annotations

from dataclasses import dataclass

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
class TileGroup:
    """
    The attention tiles of one document's pairs.

    Args:
        windows (`torch.LongTensor` of shape `(document_windows,)`):
            The document's window rows.
        tokens (`torch.LongTensor` of shape `(tiles, tile_tokens)`):
            The flat index of each tile token among the batch's real pair tokens, -1 for padding.
        mask (`torch.BoolTensor` of shape `(tiles, 1, tile_tokens, document_tokens + tile_tokens)`):
            Which keys a tile token attends to: its document's real tokens and its own pair's tokens.
        cls_queries (`torch.LongTensor` of shape `(tiles, pairs_per_tile)`):
            The pairs of each tile, -1 for padding.
        cls_mask (`torch.BoolTensor` of shape `(tiles, 1, pairs_per_tile, document_tokens + tile_tokens)`):
            The keys of each pair's `[CLS]` query, for a last layer that computes the `[CLS]` states only.
    """

    windows: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor
    cls_queries: torch.Tensor
    cls_mask: torch.Tensor


@dataclass
class PairTiles:
    """
    The attention tiles of a packed batch.

    Args:
        groups (`list[TileGroup]`): one group per document that has pairs.
        cls_tokens (`torch.LongTensor` of shape `(num_pairs,)`): the flat index of every pair's `[CLS]` among the
            real pair tokens, in pair order.
    """

    groups: list[TileGroup]
    cls_tokens: torch.Tensor


def build_pair_tiles(
    real: torch.Tensor, pair_document: torch.Tensor, window_document: torch.Tensor, window_keep: torch.Tensor
) -> PairTiles:
    """The attention tiles of a packed batch, built on the host: per document, its pairs in order, cut greedily into
    tiles of at most `PACKED_TILE_TOKENS` real tokens (a longer pair gets a tile of its own), with the masks that
    let a token see its document's real tokens and its own pair's.

    Args:
        real (`torch.BoolTensor` of shape `(num_pairs, segment_length)`): the pair segments' real tokens.
        pair_document (`torch.LongTensor` of shape `(num_pairs,)`): the document of each pair.
        window_document (`torch.LongTensor` of shape `(num_windows,)`): the document of each window.
        window_keep (`torch.BoolTensor` of shape `(num_windows, window_length)`): the windows' real tokens.
    """
    device = real.device
    lengths = real.sum(dim=1)
    starts = torch.cumsum(lengths, 0) - lengths  # each pair's first flat token (its [CLS])
    # the loops below read these per pair: as Python lists, not one device-to-host copy per read on a GPU
    lengths_list, starts_list = lengths.tolist(), starts.tolist()
    pairs_of: dict[int, list[int]] = {}
    for pair, document in enumerate(pair_document.tolist()):
        pairs_of.setdefault(document, []).append(pair)
    groups = []
    for document in torch.unique(window_document).tolist():
        windows = (window_document == document).nonzero().squeeze(1)
        pairs = pairs_of.get(document, [])
        if not pairs:
            continue
        tiles, current, used = [], [], 0
        for pair in pairs:
            if current and used + lengths_list[pair] > PACKED_TILE_TOKENS:
                tiles.append(current)
                current, used = [], 0
            current.append(pair)
            used += lengths_list[pair]
        tiles.append(current)
        size = max(sum(lengths_list[pair] for pair in tile) for tile in tiles)
        most = max(len(tile) for tile in tiles)
        token_index = torch.full((len(tiles), size), -1, dtype=torch.long)
        # the pair (its position in its tile) of each token
        owner = torch.full((len(tiles), size), -1, dtype=torch.long)
        cls_index = torch.full((len(tiles), most), -1, dtype=torch.long)
        for t, tile in enumerate(tiles):
            column = 0
            for position, pair in enumerate(tile):
                n, first = lengths_list[pair], starts_list[pair]
                token_index[t, column : column + n] = torch.arange(first, first + n)
                owner[t, column : column + n] = position
                cls_index[t, position] = pair
                column += n
        token_index, owner, cls_index = token_index.to(device), owner.to(device), cls_index.to(device)
        document_keys = window_keep[windows].reshape(1, 1, -1)
        own = (owner[:, :, None] == owner[:, None, :]) & (owner[:, None, :] >= 0)
        positions = torch.arange(most, device=device)
        cls_own = (positions[None, :, None] == owner[:, None, :]) & (owner[:, None, :] >= 0)
        groups.append(
            TileGroup(
                windows=windows,
                tokens=token_index,
                mask=torch.cat([document_keys.expand(len(tiles), size, -1), own], dim=2)[:, None],
                cls_queries=cls_index,
                cls_mask=torch.cat([document_keys.expand(len(tiles), most, -1), cls_own], dim=2)[:, None],
            )
        )
    return PairTiles(groups=groups, cls_tokens=starts)


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
    """

    window_states: torch.FloatTensor | None = None
    pair_states: torch.FloatTensor | None = None


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
    their pair), in one `scaled_dot_product_attention` call for all tiles. The weights are the encoder's own
    (embeddings, attention projections, feed-forward blocks, layer norms, dropouts): this object owns no parameter,
    so a model's state dict is the same whichever encoding it runs.

    Args:
        encoder (`BertModel`): the encoder whose weights are used.
    """

    def __init__(self, encoder: BertModel):
        self.encoder = encoder

    def __call__(
        self, inputs: PackedInputs, outputs: str = "all", training: bool = False
    ) -> PackedEncoderOutput:
        """Encodes a packed batch.

        Args:
            inputs (`PackedInputs`): the windows and the pair segments.
            outputs (`str`): which last states are needed, so that no more is computed: `"all"`;
                `"cls_and_documents"` (the last layer of the pairs for their `[CLS]` only); `"cls"` (nor the
                windows' last layer).
            training (`bool`): whether the attention probabilities get dropout (the layers' dropout modules follow
                their own training mode).
        """
        bert = self.encoder
        documents = bert.embeddings(
            input_ids=inputs.input_ids, token_type_ids=inputs.token_type_ids, position_ids=inputs.position_ids
        )
        real = inputs.pair_attention_mask.bool()
        # the pairs' real tokens, (tokens, hidden), in pair order
        tokens = bert.embeddings(
            input_ids=inputs.pair_input_ids[real][None],
            token_type_ids=inputs.pair_token_type_ids[real][None],
            position_ids=inputs.pair_position_ids[real][None],
        )[0]
        num_pairs, width = inputs.pair_input_ids.shape
        window_keep = inputs.attention_mask.bool()
        tiles = build_pair_tiles(real, inputs.pair_document, inputs.window_document, window_keep)
        layers = bert.encoder.layer
        for number, layer in enumerate(layers):
            steps = _BertLayerSteps(layer, bert.config.num_attention_heads)
            cls_only = number == len(layers) - 1 and outputs != "all"
            key, value = steps.key(documents), steps.value(documents)  # (windows, tokens, heads, head size)
            if not (cls_only and outputs == "cls"):
                context = self.window_attention(steps, documents, key, value, window_keep, training)
                documents = steps.run(context, documents)
            queries = tokens[tiles.cls_tokens] if cls_only else tokens
            pair_context = self.pair_tile_attention(
                steps, queries, tokens, key, value, tiles, cls_only, training
            )
            tokens = steps.run(pair_context, queries)
        if outputs == "all":
            grid = tokens.new_zeros(num_pairs, width, tokens.shape[-1])
            grid[real] = tokens
            return PackedEncoderOutput(window_states=documents, pair_states=grid)
        return PackedEncoderOutput(window_states=documents, pair_states=tokens[:, None])

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
        context = nn.functional.scaled_dot_product_attention(
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
        """The pair segments' attention to their document and to themselves, tile by tile.

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
        pair_context = pair_query.new_zeros(pair_query.shape)
        for group in tiles.groups:
            # each tile's keys: its document's (the same for all its tiles) and its own tokens'
            document_key, document_value = (
                key[group.windows].flatten(0, 1),
                value[group.windows].flatten(0, 1),
            )
            count = len(group.tokens)
            tile_key = torch.cat([document_key.expand(count, -1, -1, -1), pair_key[group.tokens]], dim=1)
            tile_value = torch.cat(
                [document_value.expand(count, -1, -1, -1), pair_value[group.tokens]], dim=1
            )
            tile_queries = group.cls_queries if cls_only else group.tokens
            context = nn.functional.scaled_dot_product_attention(
                pair_query[tile_queries].transpose(1, 2),
                tile_key.transpose(1, 2),
                tile_value.transpose(1, 2),
                attn_mask=group.cls_mask if cls_only else group.mask,
                dropout_p=steps.dropout(training),
                scale=steps.scaling,
            ).transpose(1, 2)
            is_query = tile_queries >= 0
            pair_context[tile_queries[is_query]] = context[is_query]
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
    "TileGroup",
    "build_pair_tiles",
    "packed_token_mean",
    "window_token_states",
]
