# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""GlobalRE model configuration."""

from __future__ import annotations

from transformers import AutoConfig, BertConfig, PreTrainedConfig

POOLINGS = ("pooler", "cls", "mean", "markers")
ENTITY_TEXTS = ("first_mention", "all_mentions", "longest_mention")
ENTITY_MARKERS = ("none", "plain", "typed")
LONG_DOCUMENT_STRATEGIES = ("mention_windows", "truncate_tail")
DECISION_RULES = ("threshold", "adaptive")
LOSSES = ("bce", "adaptive_threshold")
MARKER_POOLINGS = ("first", "mean", "logsumexp")
# Unused entries of the BERT uncased vocabulary serve as markers, so no embedding rows are added.
DEFAULT_MARKER_TOKENS = ("[unused0]", "[unused1]", "[unused2]", "[unused3]")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"GlobalReConfig.{name} must be one of {', '.join(choices)}; got {value!r}.")


class GlobalReConfig(PreTrainedConfig):
    r"""
    Configuration of a [`GlobalReForRelationExtraction`] model. The defaults reproduce the paper
    ("Multi-Relation Extraction in Entity Pairs using Global Context", arXiv 2507.22926): a frozen
    bert-base-uncased encoder reads `[CLS] document [SEP] head entity [SEP] tail entity [SEP]` for one
    ordered entity pair; its pooled [CLS] passes through tanh, dropout 0.3 and a linear layer with one
    sigmoid output per relation.

    Args:
        encoder_config (`BertConfig` or `dict`, *optional*):
            Configuration of the BERT encoder. Defaults to the bert-base-uncased shape.
        encoder_name_or_path (`str`, *optional*, defaults to `"bert-base-uncased"`):
            Where the encoder weights came from (Hub name or local directory); kept for the model card.
        id2label (`dict[int, str]`, *optional*):
            The relation label set: class id to relation id, e.g. `{0: "Na", 1: "P17", ...}`. Class ids index
            the logits. The no-relation class (see `no_relation_label`) is part of the set.
        relation_names (`dict[str, str]`, *optional*):
            Readable names of relation ids, e.g. `{"P17": "country"}`. Relations without a name show their id.
        no_relation_label (`str`, *optional*, defaults to `"Na"`):
            The label in `id2label` that means "no relation". It is trained like any class (BCE) or as the
            learned threshold class (`loss="adaptive_threshold"`), and is never returned as a prediction.
            `None` when the label set has no such class.
        classifier_dropout (`float`, *optional*, defaults to 0.3):
            Dropout before the linear classifier.
        freeze_encoder (`bool`, *optional*, defaults to `True`):
            Whether the encoder (embeddings, transformer layers and pooler) is frozen, as in the paper.
        pooling (`str`, *optional*, defaults to `"pooler"`):
            How the pair sequence becomes one vector: `"pooler"` (BERT's pooled [CLS], the paper), `"cls"` (the
            last hidden state of [CLS]), `"mean"` (mean of the last hidden states over the sequence), or
            `"markers"` (the [CLS] state concatenated with the states of the first head and first tail
            start markers; needs `entity_markers` other than `"none"`).
        marker_pooling (`str`, *optional*, defaults to `"first"`):
            With `pooling="markers"`, how the start markers of an entity's several mentions become one vector:
            `"first"` (the first mention's marker), `"mean"`, or `"logsumexp"` (a smooth maximum over the
            mentions, as ATLOP pools mentions).
        max_seq_length (`int`, *optional*, defaults to 512):
            Token budget of one pair sequence, special tokens included (the paper's 512). Named so because
            transformers reserves `max_length` for generation settings.
        entity_text (`str`, *optional*, defaults to `"first_mention"`):
            What the head and tail segments contain: `"first_mention"` (the entity's first mention, in
            document order), `"all_mentions"` (its distinct mention strings joined by `entity_separator`), or
            `"longest_mention"`.
        entity_separator (`str`, *optional*, defaults to `" ; "`):
            Separator between mention strings when `entity_text="all_mentions"`.
        max_entity_tokens (`int`, *optional*, defaults to 64):
            Longest an entity segment may be, in tokens; longer segments are cut (and reported).
        entity_markers (`str`, *optional*, defaults to `"none"`):
            Whether the document segment marks the pair's mentions: `"none"` (the paper), `"plain"` (every head
            mention is wrapped in the head start/end markers and every tail mention in the tail markers), or
            `"typed"` (as `"plain"`, with the entity type written after the start marker).
        marker_tokens (`list[str]`, *optional*):
            The four marker tokens: head start, head end, tail start, tail end. Defaults to
            `[unused0]`..`[unused3]` of the BERT vocabulary.
        long_document_strategy (`str`, *optional*, defaults to `"mention_windows"`):
            What survives when document tokens do not fit the budget left by the entity segments:
            `"mention_windows"` keeps the sentences that mention the head or the tail, then their nearest
            neighbouring sentences, in document order (and token windows around the mentions if even those do
            not fit); `"truncate_tail"` keeps the beginning of the document. Both are reported.
        decision_rule (`str`, *optional*, defaults to `"threshold"`):
            How logits become relations: `"threshold"` predicts a relation when its sigmoid score exceeds its
            threshold; `"adaptive"` when its logit exceeds the no-relation logit (for models trained with the
            adaptive-threshold loss).
        threshold (`float`, *optional*, defaults to 0.5):
            Global probability threshold of the `"threshold"` rule.
        relation_thresholds (`dict[str, float]`, *optional*):
            Per-relation thresholds that override `threshold` for the relations they name.
        max_relations_per_pair (`int`, *optional*):
            Keep at most this many relations per pair (the highest scoring); `None` keeps all.
        loss (`str`, *optional*, defaults to `"bce"`):
            Training loss: `"bce"` (binary cross-entropy over all classes, multi-label) or
            `"adaptive_threshold"` (ATLOP's loss: the no-relation class is a learned per-pair threshold).
        pair_types (`list[list[str]]`, *optional*):
            Entity-type constraint on candidate pairs, as `[head_type, tail_type]` items, e.g.
            `[["CHEM", "DISE"]]` for CDR. `None` scores every ordered pair of distinct entities.
        marker_token_ids (`list[int]`, *optional*):
            Vocabulary ids of `marker_tokens`; `pooling="markers"` finds the markers by these ids.
            `from_encoder_pretrained` fills them in from the encoder's tokenizer.
    """

    model_type = "globalre"
    sub_configs = {"encoder_config": BertConfig}

    def __init__(
        self,
        encoder_config: BertConfig | dict | None = None,
        encoder_name_or_path: str = "bert-base-uncased",
        relation_names: dict[str, str] | None = None,
        no_relation_label: str | None = "Na",
        classifier_dropout: float = 0.3,
        freeze_encoder: bool = True,
        pooling: str = "pooler",
        marker_pooling: str = "first",
        max_seq_length: int = 512,
        entity_text: str = "first_mention",
        entity_separator: str = " ; ",
        max_entity_tokens: int = 64,
        entity_markers: str = "none",
        marker_tokens: list[str] | None = None,
        long_document_strategy: str = "mention_windows",
        decision_rule: str = "threshold",
        threshold: float = 0.5,
        relation_thresholds: dict[str, float] | None = None,
        max_relations_per_pair: int | None = None,
        loss: str = "bce",
        pair_types: list[list[str]] | None = None,
        marker_token_ids: list[int] | None = None,
        **kwargs,
    ):
        if isinstance(encoder_config, dict):
            encoder_config = BertConfig(**encoder_config)
        self.encoder_config = encoder_config if encoder_config is not None else BertConfig()
        self.encoder_name_or_path = encoder_name_or_path
        self.relation_names = dict(relation_names or {})
        self.no_relation_label = no_relation_label
        self.classifier_dropout = classifier_dropout
        self.freeze_encoder = freeze_encoder
        self.pooling = pooling
        self.marker_pooling = marker_pooling
        self.max_seq_length = max_seq_length
        self.entity_text = entity_text
        self.entity_separator = entity_separator
        self.max_entity_tokens = max_entity_tokens
        self.entity_markers = entity_markers
        self.marker_tokens = list(marker_tokens or DEFAULT_MARKER_TOKENS)
        self.long_document_strategy = long_document_strategy
        self.decision_rule = decision_rule
        self.threshold = threshold
        self.relation_thresholds = dict(relation_thresholds or {})
        self.max_relations_per_pair = max_relations_per_pair
        self.loss = loss
        self.pair_types = [list(p) for p in pair_types] if pair_types else None
        self.marker_token_ids = list(marker_token_ids) if marker_token_ids else None
        super().__init__(**kwargs)
        if self.id2label is not None and not self.label2id:
            self.label2id = {label: index for index, label in self.id2label.items()}
        self.validate_globalre_fields()

    def validate_globalre_fields(self) -> None:
        """Raises a `ValueError` naming the field when a GlobalRE option is not one of its documented values."""
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("marker_pooling", self.marker_pooling, MARKER_POOLINGS)
        _check_choice("entity_text", self.entity_text, ENTITY_TEXTS)
        _check_choice("entity_markers", self.entity_markers, ENTITY_MARKERS)
        _check_choice("long_document_strategy", self.long_document_strategy, LONG_DOCUMENT_STRATEGIES)
        _check_choice("decision_rule", self.decision_rule, DECISION_RULES)
        _check_choice("loss", self.loss, LOSSES)
        if self.pooling == "markers" and self.entity_markers == "none":
            raise ValueError('GlobalReConfig.pooling="markers" needs entity_markers="plain" or "typed".')
        if len(self.marker_tokens) != 4:
            raise ValueError(
                "GlobalReConfig.marker_tokens must hold four tokens (head start, head end, tail start, tail end); "
                f"got {self.marker_tokens!r}."
            )
        needs_no_relation = self.loss == "adaptive_threshold" or self.decision_rule == "adaptive"
        if needs_no_relation and self.no_relation_label is None:
            raise ValueError(
                "The adaptive-threshold loss and decision rule use the no-relation class as the threshold; "
                "set GlobalReConfig.no_relation_label."
            )
        if self.max_seq_length < 16 or self.max_seq_length > self.encoder_config.max_position_embeddings:
            raise ValueError(
                f"GlobalReConfig.max_seq_length={self.max_seq_length} must lie between 16 and the encoder's "
                f"max_position_embeddings ({self.encoder_config.max_position_embeddings})."
            )

    @property
    def no_relation_id(self) -> int | None:
        """Class id of the no-relation label, or `None`."""
        if self.no_relation_label is None:
            return None
        if self.no_relation_label not in (self.label2id or {}):
            raise ValueError(
                f"GlobalReConfig.no_relation_label={self.no_relation_label!r} is not in the label set "
                f"({', '.join(list(self.label2id or {})[:8])}, ...)."
            )
        return self.label2id[self.no_relation_label]

    def relation_name(self, label: str) -> str:
        """Readable name of a relation id (the id itself when no name is known)."""
        return self.relation_names.get(label, label)


GlobalReConfig.register_for_auto_class()
# Known to AutoConfig in this process, so that loading a saved directory (its tokenizer included) needs no
# remote-code prompt when these files are imported locally.
AutoConfig.register(GlobalReConfig.model_type, GlobalReConfig, exist_ok=True)

__all__ = ["GlobalReConfig"]
