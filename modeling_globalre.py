# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""PyTorch GlobalRE model: one BERT sequence per ordered entity pair, `[CLS] document [SEP] head [SEP] tail [SEP]`,
classified into a multi-label relation set."""

from __future__ import annotations

import logging
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
        **config_kwargs,
    ) -> GlobalReForRelationExtraction:
        """Builds a fresh GlobalRE model around pretrained encoder weights (a Hub name such as
        `"bert-base-uncased"` or a local directory with a BERT `config.json` and weights).

        Args:
            encoder_name_or_path: where the BERT encoder comes from.
            id2label: the relation label set, as `{class_id: relation_id}` or a list of relation ids.
            relation_names: readable relation names, e.g. `{"P17": "country"}`.
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
        config = GlobalReConfig(
            encoder_config=encoder.config.to_dict(),
            encoder_name_or_path=str(encoder_name_or_path),
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
    ) -> torch.Tensor:
        """The pooled vector of each pair sequence (`config.pooling`), before tanh, dropout and classifier."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        outputs = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        pooling = self.config.pooling
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
        head = self._pool_markers(hidden, input_ids == head_start)
        tail = self._pool_markers(hidden, input_ids == tail_start)
        return torch.cat([hidden[:, 0], head, tail], dim=-1)

    def _pool_markers(self, hidden: torch.Tensor, is_marker: torch.Tensor) -> torch.Tensor:
        """One vector per sequence from the marker positions (`config.marker_pooling`); a sequence whose markers
        were all cut away by truncation falls back to its [CLS] state."""
        has_marker = is_marker.any(dim=1, keepdim=True)
        if self.config.marker_pooling == "first":
            rows = torch.arange(hidden.shape[0], device=hidden.device)
            pooled = hidden[rows, is_marker.int().argmax(dim=1)]
        elif self.config.marker_pooling == "mean":
            weights = is_marker.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        else:
            masked = hidden.masked_fill(~is_marker.unsqueeze(-1), torch.finfo(hidden.dtype).min)
            pooled = torch.logsumexp(masked.float(), dim=1).to(hidden.dtype)
        return torch.where(has_marker, pooled, hidden[:, 0])

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
        labels: torch.FloatTensor | None = None,
        **kwargs,
    ) -> RelationExtractionOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
                Pair sequences `[CLS] document [SEP] head [SEP] tail [SEP]` from [`GlobalReProcessor`].
            attention_mask (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                1 for real tokens, 0 for padding.
            token_type_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                0 for the document segment, 1 for the head and tail segments.
            labels (`torch.FloatTensor` of shape `(batch_size, num_labels)`, *optional*):
                Multi-hot relation labels (the no-relation column set for pairs without a relation).
        """
        representation = self.pair_representation(input_ids, attention_mask, token_type_ids)
        return self.classify(representation, labels)


GlobalReForRelationExtraction.register_for_auto_class("AutoModel")
AutoModel.register(GlobalReConfig, GlobalReForRelationExtraction, exist_ok=True)

__all__ = ["GlobalReForRelationExtraction", "GlobalRePreTrainedModel", "RelationExtractionOutput"]
