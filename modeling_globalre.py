# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""PyTorch GlobalRE model: one BERT sequence per ordered entity pair, `[CLS] document [SEP] head [SEP] tail [SEP]`,
classified into a multi-label relation set."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, BertModel, PreTrainedModel
from transformers.utils import ModelOutput

try:  # Hub remote code resolves sibling files only through relative imports
    from .configuration_globalre import DEFAULT_MARKER_TOKENS, GlobalReConfig
except ImportError:  # the same file used from a source checkout or an installed package
    from configuration_globalre import DEFAULT_MARKER_TOKENS, GlobalReConfig

logger = logging.getLogger(__name__)


@dataclass
class RelationExtractionOutput(ModelOutput):
    """
    Output of [`GlobalReForRelationExtraction`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is given):
            Multi-label loss (`config.loss`).
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            One logit per relation class, the no-relation class included.
        pair_representation (`torch.FloatTensor` of shape `(batch_size, representation_size)`):
            The pooled vector of each pair before tanh, dropout and the classifier. With a frozen encoder it
            never changes, so training can cache it.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    pair_representation: torch.FloatTensor | None = None


def adaptive_threshold_loss(logits: torch.Tensor, labels: torch.Tensor, threshold_class: int) -> torch.Tensor:
    """ATLOP's adaptive-threshold loss (Zhou et al., 2021): every gold relation must outscore the threshold class,
    and the threshold class must outscore every other relation. `labels` is multi-hot; its threshold column is
    ignored."""
    labels = labels.float().clone()
    labels[:, threshold_class] = 0.0
    threshold_onehot = torch.zeros_like(labels)
    threshold_onehot[:, threshold_class] = 1.0
    very_negative = torch.finfo(logits.dtype).min / 2
    # gold relations against the threshold class
    positive_logits = logits.masked_fill((labels + threshold_onehot) == 0, very_negative)
    positive_loss = -(torch.log_softmax(positive_logits, dim=-1) * labels).sum(dim=-1)
    # the threshold class against every relation that is not gold
    negative_logits = logits.masked_fill(labels == 1, very_negative)
    negative_loss = -(torch.log_softmax(negative_logits, dim=-1) * threshold_onehot).sum(dim=-1)
    return (positive_loss + negative_loss).mean()


# Tokens of pair segments per attention tile of the packed encoder: a tile's queries attend to their document's keys
# and the tile's own keys, so a larger tile repeats the document's keys less and wastes more scores on other pairs'
# tokens (masked); about 128 was fastest on CPU (MiniLM, Re-DocRED).
PACKED_TILE_TOKENS = 128


@dataclass
class _TileGroup:
    windows: torch.Tensor  # the document's window rows
    tokens: torch.Tensor  # (tiles, tile tokens): flat pair-token index, -1 for padding
    mask: torch.Tensor  # (tiles, 1, tile tokens, document tokens + tile tokens): who attends to whom
    cls_queries: torch.Tensor  # (tiles, pairs in a tile): the pairs of each tile, -1 for padding
    cls_mask: torch.Tensor  # (tiles, 1, pairs in a tile, document tokens + tile tokens)


@dataclass
class _PairTiles:
    groups: list[_TileGroup]
    cls_tokens: torch.Tensor  # flat index of every pair's [CLS], in pair order


def _pair_tiles(
    real: torch.Tensor, pair_document: torch.Tensor, window_document: torch.Tensor, window_keep: torch.Tensor
) -> _PairTiles:
    """The attention tiles of a packed batch (see `GlobalReForRelationExtraction.packed_encoder`): per document,
    its pairs in order, cut greedily into tiles of at most `PACKED_TILE_TOKENS` real tokens (a longer pair gets a
    tile of its own), with the masks that let a token see its document's real tokens and its own pair's."""
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
        owner = torch.full(
            (len(tiles), size), -1, dtype=torch.long
        )  # the pair (position in its tile) of a token
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
            _TileGroup(
                windows=windows,
                tokens=token_index,
                mask=torch.cat([document_keys.expand(len(tiles), size, -1), own], dim=2)[:, None],
                cls_queries=cls_index,
                cls_mask=torch.cat([document_keys.expand(len(tiles), most, -1), cls_own], dim=2)[:, None],
            )
        )
    return _PairTiles(groups=groups, cls_tokens=starts)


class GlobalRePreTrainedModel(PreTrainedModel):
    config_class = GlobalReConfig
    base_model_prefix = "globalre"
    main_input_name = "input_ids"
    # The inner BERT keeps the attention implementation chosen for the wrapper only if the wrapper declares it.
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.encoder_config.initializer_range
        if isinstance(module, nn.Linear):
            module.weight.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()
        elif hasattr(module, "position_ids") and hasattr(module, "position_embeddings"):
            # BERT's embedding buffers are not saved; they must hold positions, not garbage
            module.position_ids.copy_(
                torch.arange(module.position_ids.shape[-1]).expand_as(module.position_ids)
            )
            if hasattr(module, "token_type_ids"):
                module.token_type_ids.zero_()


class GlobalReForRelationExtraction(GlobalRePreTrainedModel):
    r"""
    GlobalRE (arXiv 2507.22926): a BERT encoder reads the whole document together with one ordered entity pair,
    `[CLS] document [SEP] head entity [SEP] tail entity [SEP]` (token types 0 for the document, 1 for the
    entities); the pair's pooled vector goes through tanh, dropout and a linear layer with one logit per relation.
    The defaults are the paper's: frozen encoder, BERT's pooled [CLS], dropout 0.3, binary cross-entropy.
    """

    def __init__(self, config: GlobalReConfig):
        super().__init__(config)
        config.validate_globalre_fields()
        if config.no_relation_label is not None:
            config.no_relation_id  # noqa: B018 -- raises a clear error when the label is not in the set
        unknown = [label for label in config.relation_thresholds if label not in config.label2id]
        if unknown:
            raise ValueError(f"relation_thresholds name relations that are not in the label set: {unknown}.")
        self.encoder = BertModel(config.encoder_config, add_pooling_layer=config.pooling == "pooler")
        hidden_size = config.encoder_config.hidden_size
        representation_size = 3 * hidden_size if config.pooling == "markers" else hidden_size
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(representation_size, config.num_labels)
        self.post_init()
        if config.freeze_encoder:
            self.freeze_encoder()

    def freeze_encoder(self) -> None:
        """Stops gradients through the encoder; it then also stays in eval mode (no dropout), so a pair's
        representation is a fixed function of its tokens."""
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.config.freeze_encoder:
            self.encoder.eval()
        return self

    @classmethod
    def from_encoder_pretrained(
        cls,
        encoder_name_or_path: str,
        id2label: dict[int, str] | list[str] | None = None,
        relation_names: dict[str, str] | None = None,
        encoder_name: str | None = None,
        **config_kwargs,
    ) -> GlobalReForRelationExtraction:
        """Builds a fresh GlobalRE model around pretrained encoder weights (a Hub name such as
        `"bert-base-uncased"` or a local directory with a BERT `config.json` and weights).

        Args:
            encoder_name_or_path: where the BERT encoder comes from.
            id2label: the relation label set, as `{class_id: relation_id}` or a list of relation ids.
            relation_names: readable relation names, e.g. `{"P17": "country"}`.
            encoder_name: the encoder's name recorded in the config (`encoder_name_or_path`): by default the Hub
                name, or for a local folder its last component only, so that a published config holds no path of
                this machine.
            config_kwargs: any other `GlobalReConfig` field (`pooling`, `freeze_encoder`, `entity_markers`, ...);
                `attn_implementation` and `dtype` go to the encoder loading.
        """
        load_kwargs = {
            k: config_kwargs.pop(k) for k in ("attn_implementation", "dtype") if k in config_kwargs
        }
        # float32 unless asked otherwise: transformers 5 would keep a half-precision checkpoint's dtype, and the
        # head and the optimiser expect full-precision weights.
        load_kwargs.setdefault("dtype", torch.float32)
        encoder = BertModel.from_pretrained(encoder_name_or_path, **load_kwargs)
        if config_kwargs.get("entity_markers", "none") != "none" and not config_kwargs.get(
            "marker_token_ids"
        ):
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(encoder_name_or_path)
            markers = config_kwargs.get("marker_tokens") or list(DEFAULT_MARKER_TOKENS)
            config_kwargs["marker_token_ids"] = tokenizer.convert_tokens_to_ids(markers)
        if isinstance(id2label, (list, tuple)):
            id2label = dict(enumerate(id2label))
        if encoder_name is None:
            local = os.path.isdir(encoder_name_or_path)
            encoder_name = (
                os.path.basename(os.path.normpath(encoder_name_or_path))
                if local
                else str(encoder_name_or_path)
            )
        encoder_config = encoder.config.to_dict()
        encoder_config.pop("_name_or_path", None)  # where this machine keeps it: not part of the model
        config = GlobalReConfig(
            encoder_config=encoder_config,
            encoder_name_or_path=encoder_name,
            id2label=id2label,
            relation_names=relation_names,
            **config_kwargs,
        )
        model = cls(config)
        state = encoder.state_dict()
        missing, unexpected = model.encoder.load_state_dict(state, strict=False)
        if missing:
            logger.warning(
                "Encoder weights not found in %s and left randomly initialised: %s",
                encoder_name_or_path,
                missing,
            )
        if unexpected:
            logger.info(
                "Encoder weights of %s not used by pooling=%r: %s",
                encoder_name_or_path,
                config.pooling,
                unexpected,
            )
        if config.freeze_encoder:
            model.freeze_encoder()
        return model

    def pair_representation(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        window_document: torch.LongTensor | None = None,
        pair_input_ids: torch.LongTensor | None = None,
        pair_attention_mask: torch.LongTensor | None = None,
        pair_token_type_ids: torch.LongTensor | None = None,
        pair_position_ids: torch.LongTensor | None = None,
        pair_document: torch.LongTensor | None = None,
        head_mentions: torch.LongTensor | None = None,
        tail_mentions: torch.LongTensor | None = None,
    ) -> torch.Tensor:
        """The pooled vector of each pair (`config.pooling`), before tanh, dropout and classifier: one per row of
        `input_ids` (the one-pair encoding), or one per row of `pair_input_ids` (the packed encoding, see
        `forward`). Shape `(num_pairs, representation_size)`."""
        pooling = self.config.pooling
        if pair_input_ids is not None:
            documents, pairs = self.packed_encoder(
                input_ids,
                attention_mask,
                token_type_ids,
                position_ids,
                window_document,
                pair_input_ids,
                pair_attention_mask,
                pair_token_type_ids,
                pair_position_ids,
                pair_document,
                outputs={"mean": "all", "markers": "cls_and_documents"}.get(pooling, "cls"),
            )
            cls = pairs[:, 0]
            if pooling == "pooler":
                return self.encoder.pooler.activation(self.encoder.pooler.dense(cls))
            if pooling == "cls":
                return cls
            if pooling == "mean":
                # the tokens the pair's one-pair sequence would hold: its document's and its own segment's
                window_mask = attention_mask.to(documents.dtype).unsqueeze(-1)
                num_documents = int(window_document.max()) + 1
                width = documents.shape[-1]
                document_sum = documents.new_zeros(num_documents, width)
                document_sum.index_add_(0, window_document, (documents * window_mask).sum(dim=1))
                document_count = documents.new_zeros(num_documents)
                document_count.index_add_(0, window_document, window_mask.sum(dim=(1, 2)))
                pair_mask = pair_attention_mask.to(pairs.dtype).unsqueeze(-1)
                total = document_sum[pair_document] + (pairs * pair_mask).sum(dim=1)
                count = document_count[pair_document] + pair_mask.sum(dim=(1, 2))
                return total / count.clamp(min=1.0).unsqueeze(-1)
            if head_mentions is None or tail_mentions is None:
                raise ValueError('pooling="markers" with packed inputs needs head_mentions and tail_mentions')
            tokens = documents.reshape(-1, documents.shape[-1])
            head = self._pool_mentions(tokens[head_mentions.clamp(min=0)], head_mentions >= 0, cls)
            tail = self._pool_mentions(tokens[tail_mentions.clamp(min=0)], tail_mentions >= 0, cls)
            return torch.cat([cls, head, tail], dim=-1)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        outputs = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
        )
        if pooling == "pooler":
            return outputs.pooler_output
        hidden = outputs.last_hidden_state
        if pooling == "cls":
            return hidden[:, 0]
        if pooling == "mean":
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        # markers: [CLS] with the head's and the tail's start markers
        head_start, _, tail_start, _ = self.marker_token_ids()
        head = self._pool_mentions(hidden, input_ids == head_start, hidden[:, 0])
        tail = self._pool_mentions(hidden, input_ids == tail_start, hidden[:, 0])
        return torch.cat([hidden[:, 0], head, tail], dim=-1)

    def packed_encoder(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor,
        token_type_ids: torch.LongTensor,
        position_ids: torch.LongTensor,
        window_document: torch.LongTensor,
        pair_input_ids: torch.LongTensor,
        pair_attention_mask: torch.LongTensor,
        pair_token_type_ids: torch.LongTensor,
        pair_position_ids: torch.LongTensor,
        pair_document: torch.LongTensor,
        outputs: str = "all",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder over the packed encoding: every document once, every pair's short segment attending to its
        document and to itself (`encoding="packed"`; `forward` describes the inputs).

        Layer by layer, the document windows are ordinary BERT sequences (a token attends within its window, so a
        document's states never depend on pairs); a pair's tokens attend to every token of its document's
        windows, through those windows' keys and values of the same layer, and to their own segment, never to
        another pair's. This is the attention of one packed sequence `[CLS] document [SEP] [CLS] head [SEP] tail
        [SEP] [CLS] head [SEP] tail [SEP] ...` under that mask, computed without materialising it: the document is
        encoded once however many pairs follow it, and the pairs' tokens go through the linear layers without
        their padding. For the attention, a document's pairs are cut into tiles of about `PACKED_TILE_TOKENS`
        tokens; a tile's queries attend to the document's keys and the tile's own keys (masked to their pair), in
        one `scaled_dot_product_attention` call for all tiles. The weights are the encoder's own (embeddings,
        attention projections, feed-forward blocks, layer norms, dropouts).

        `outputs` says which last states are needed, so that no more is computed: `"all"`; `"cls_and_documents"`
        (the last layer of the pairs for their `[CLS]` only); `"cls"` (nor the documents' last layer).

        Returns the last hidden states of the windows, `(num_windows, window_length, hidden)` (with
        `outputs="cls"`, those of the layer before), and of the pair segments, `(num_pairs, segment_length,
        hidden)` (`(num_pairs, 1, hidden)` unless `outputs="all"`).
        """
        bert = self.encoder
        documents = bert.embeddings(
            input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids
        )
        real = pair_attention_mask.bool()
        # the pairs' real tokens, (tokens, hidden), in pair order
        tokens = bert.embeddings(
            input_ids=pair_input_ids[real][None],
            token_type_ids=pair_token_type_ids[real][None],
            position_ids=pair_position_ids[real][None],
        )[0]
        num_pairs, width = pair_input_ids.shape
        window_keep = attention_mask.bool()
        tiles = _pair_tiles(real, pair_document, window_document, window_keep)
        num_heads = bert.config.num_attention_heads
        layers = bert.encoder.layer
        for number, layer in enumerate(layers):
            attention = layer.attention.self
            dropout = attention.dropout.p if self.training else 0.0
            cls_only = number == len(layers) - 1 and outputs != "all"

            def heads(states: torch.Tensor) -> torch.Tensor:
                return states.unflatten(-1, (num_heads, -1))  # (..., heads, head size)

            key, value = (
                heads(attention.key(documents)),
                heads(attention.value(documents)),
            )  # (windows, tokens, ...)
            if not (cls_only and outputs == "cls"):
                # ordinary self-attention within each window
                context = nn.functional.scaled_dot_product_attention(
                    heads(attention.query(documents)).transpose(1, 2),
                    key.transpose(1, 2),
                    value.transpose(1, 2),
                    attn_mask=window_keep[:, None, None, :],
                    dropout_p=dropout,
                    scale=attention.scaling,
                )
                documents = layer.feed_forward_chunk(
                    layer.attention.output(context.transpose(1, 2).flatten(2), documents)
                )
            pair_query = heads(attention.query(tokens[tiles.cls_tokens] if cls_only else tokens))
            pair_key, pair_value = heads(attention.key(tokens)), heads(attention.value(tokens))
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
                queries = group.cls_queries if cls_only else group.tokens
                context = nn.functional.scaled_dot_product_attention(
                    pair_query[queries].transpose(1, 2),
                    tile_key.transpose(1, 2),
                    tile_value.transpose(1, 2),
                    attn_mask=group.cls_mask if cls_only else group.mask,
                    dropout_p=dropout,
                    scale=attention.scaling,
                ).transpose(1, 2)
                is_query = queries >= 0
                pair_context[queries[is_query]] = context[is_query]
            tokens = layer.feed_forward_chunk(
                layer.attention.output(
                    pair_context.flatten(1), tokens[tiles.cls_tokens] if cls_only else tokens
                )
            )
        if outputs == "all":
            grid = tokens.new_zeros(num_pairs, width, tokens.shape[-1])
            grid[real] = tokens
            return documents, grid
        return documents, tokens[:, None]

    def _pool_mentions(
        self, states: torch.Tensor, valid: torch.Tensor, fallback: torch.Tensor
    ) -> torch.Tensor:
        """One vector per pair from the states of an entity's mentions, `(num_pairs, num_states, hidden)` where
        `valid` (`(num_pairs, num_states)`) marks them (`config.marker_pooling`); a pair whose entity has none left
        (its markers cut by truncation) gets `fallback`, its [CLS] state."""
        has_any = valid.any(dim=1, keepdim=True)
        if self.config.marker_pooling == "first":
            rows = torch.arange(states.shape[0], device=states.device)
            pooled = states[rows, valid.int().argmax(dim=1)]
        elif self.config.marker_pooling == "mean":
            weights = valid.unsqueeze(-1).to(states.dtype)
            pooled = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        else:
            masked = states.masked_fill(~valid.unsqueeze(-1), torch.finfo(states.dtype).min)
            pooled = torch.logsumexp(masked.float(), dim=1).to(states.dtype)
        return torch.where(has_any, pooled, fallback)

    def marker_token_ids(self) -> list[int]:
        """Token ids of the four marker tokens, stored in the config by the processor that built the inputs."""
        ids = self.config.marker_token_ids
        if not ids:
            raise ValueError(
                'pooling="markers" needs config.marker_token_ids; build the model with '
                "GlobalReForRelationExtraction.from_encoder_pretrained(..., marker_token_ids=processor.marker_ids) "
                "or set it from the processor."
            )
        return list(ids)

    def classify(
        self, pair_representation: torch.Tensor, labels: torch.Tensor | None = None
    ) -> RelationExtractionOutput:
        """The classification head: tanh, dropout, linear; and the loss when `labels` (multi-hot) are given.
        Training on cached representations of a frozen encoder calls this directly."""
        logits = self.classifier(self.dropout(torch.tanh(pair_representation)))
        loss = None
        if labels is not None:
            loss = self.loss(logits, labels)
        return RelationExtractionOutput(loss=loss, logits=logits, pair_representation=pair_representation)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The multi-label loss chosen by `config.loss`, computed in float32."""
        logits = logits.float()
        labels = labels.to(logits.dtype)
        if labels.shape != logits.shape:
            raise ValueError(
                f"labels must be multi-hot of shape {tuple(logits.shape)} (pairs x {self.config.num_labels} labels); "
                f"got {tuple(labels.shape)}."
            )
        if self.config.loss == "adaptive_threshold":
            return adaptive_threshold_loss(logits, labels, self.config.no_relation_id)
        return nn.functional.binary_cross_entropy_with_logits(logits, labels)

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        window_document: torch.LongTensor | None = None,
        pair_input_ids: torch.LongTensor | None = None,
        pair_attention_mask: torch.LongTensor | None = None,
        pair_token_type_ids: torch.LongTensor | None = None,
        pair_position_ids: torch.LongTensor | None = None,
        pair_document: torch.LongTensor | None = None,
        head_mentions: torch.LongTensor | None = None,
        tail_mentions: torch.LongTensor | None = None,
        labels: torch.FloatTensor | None = None,
        **kwargs,
    ) -> RelationExtractionOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
                One-pair encoding (`encoding="pair"`): the pair sequences `[CLS] document [SEP] head [SEP] tail
                [SEP]` from [`GlobalReProcessor`]. Packed encoding (`encoding="packed"`): the windows
                `[CLS] document [SEP]` of the batch's documents (a document longer than `max_seq_length` has
                several).
            attention_mask (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                1 for real tokens, 0 for padding.
            token_type_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                0 for the document segment, 1 for the head and tail segments.
            position_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                Position ids (0, 1, ... by default).
            window_document (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                Packed encoding: the document (0, 1, ... within the batch) of each window.
            pair_input_ids (`torch.LongTensor` of shape `(num_pairs, segment_length)`, *optional*):
                Packed encoding: each pair's own segment, `[CLS] head [SEP] tail [SEP]`, padded.
            pair_attention_mask, pair_token_type_ids, pair_position_ids (same shape, *optional*):
                Packed encoding: the segments' padding mask, token types (0 for `[CLS]`, 1 after it) and the
                position ids each token has in the pair's one-pair sequence.
            pair_document (`torch.LongTensor` of shape `(num_pairs,)`, *optional*):
                Packed encoding: the document of each pair (as in `window_document`).
            head_mentions, tail_mentions (`torch.LongTensor` of shape `(num_pairs, max_mentions)`, *optional*):
                Packed encoding with `pooling="markers"`: the flat indices (window x sequence_length + position) of
                the head's and the tail's mention start markers in `input_ids`, -1 padded.
            labels (`torch.FloatTensor` of shape `(num_pairs, num_labels)`, *optional*):
                Multi-hot relation labels (the no-relation column set for pairs without a relation).

        Returns `logits` of shape `(num_pairs, num_labels)`: one row per sequence (one-pair encoding) or per pair
        segment (packed encoding).
        """
        representation = self.pair_representation(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            window_document,
            pair_input_ids,
            pair_attention_mask,
            pair_token_type_ids,
            pair_position_ids,
            pair_document,
            head_mentions,
            tail_mentions,
        )
        return self.classify(representation, labels)


GlobalReForRelationExtraction.register_for_auto_class("AutoModel")
AutoModel.register(GlobalReConfig, GlobalReForRelationExtraction, exist_ok=True)

__all__ = [
    "GlobalReForRelationExtraction",
    "GlobalRePreTrainedModel",
    "RelationExtractionOutput",
]
