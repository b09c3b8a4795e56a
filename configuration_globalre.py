# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""GlobalRE model configuration, and the one declaration of every GlobalRE option."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from transformers import AutoConfig, BertConfig, PreTrainedConfig

# Unused entries of the BERT uncased vocabulary serve as markers, so no embedding rows are added.
DEFAULT_MARKER_TOKENS = ("[unused0]", "[unused1]", "[unused2]", "[unused3]")
PIPELINE_TASK = "relation-extraction"
# What a saved model's config.json declares under `custom_pipelines`, as transformers' `Pipeline.save_pretrained`
# writes it, so that `pipeline(PIPELINE_TASK, model=folder, trust_remote_code=True)` finds the pipeline's code
# (`pipeline_globalre.py`, copied beside the model's by `GlobalReForRelationExtraction.save_pretrained`).
PIPELINE_FILE = "pipeline_globalre.py"
CUSTOM_PIPELINES = {
    PIPELINE_TASK: {
        "impl": "pipeline_globalre.RelationExtractionPipeline",
        "pt": ["AutoModel"],
        "type": "text",
    }
}


@dataclass(frozen=True)
class Option:
    """One GlobalRE option, declared once. The config's fields, defaults and docstring, the processor's settings and
    checks, `train.py`'s command-line flags and the model card's table are all derived from these declarations.

    Attributes:
        name: the config field (and `--name` on the command line).
        default: the paper-compatible default.
        doc: what it does (the config docstring, `--help` and the card use it).
        choices: the allowed values, when they are a closed set.
        role: `"processor"` (how pairs become encoder sequences: a processor setting, also stored in the config),
            `"model"` (architecture and loss) or `"decision"` (how logits become relations).
        card: the label of its row in the model card's training table (`None`: not shown).
        cli: whether `train.py` exposes it as a flag.
        type_name: its type as the docstring shows it.
    """

    name: str
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    role: str = "model"
    card: str | None = None
    cli: bool = True
    type_name: str = "str"

    def check(self, value: Any, owner: str = "GlobalReConfig") -> None:
        """Raises a `ValueError` naming `owner.name` when `value` is not one of the choices."""
        if self.choices is not None and value not in self.choices:
            raise ValueError(
                f"{owner}.{self.name} must be one of {', '.join(map(str, self.choices))}; got {value!r}."
            )


OPTIONS: tuple[Option, ...] = (
    # ---- how pairs become encoder sequences (the processor) ---------------------------------------------------
    Option(
        "encoding", "pair", "How entity pairs become encoder sequences. `pair` (the paper): one sequence per "
        "ordered pair, `[CLS] document [SEP] head [SEP] tail [SEP]`. `packed`: the document is encoded once and "
        "each pair gets a short segment of its own, `[CLS] head [SEP] tail [SEP]`, with the position ids it has in "
        "its one-pair sequence; document tokens attend only to the document, a pair's tokens to the document and "
        "to their own segment (never to another pair's), so a pair's vector does not depend on which pairs share "
        "its batch. With entity markers every mention in the document is wrapped in the first two marker tokens. "
        "About 20x fewer encoder tokens for all pairs of a document; a document longer than `max_seq_length` is "
        "encoded whole, as several windows.",
        choices=("pair", "packed"), role="processor", card="encoding",
    ),
    Option(
        "pair_segment", "names", "With `encoding` `packed`, what a pair's own segment holds. `names`: `[CLS] head "
        "[SEP] tail [SEP]`, the entity texts of the paper's sequence. `markers`: `[CLS] [H] [T]`, the head and tail "
        "markers (the last two marker tokens) with the position ids of the head's and the tail's first mentions in "
        "the document (levitated markers, placed as PURE and PL-Marker place them): 3 tokens a pair instead of "
        "about 7.",
        choices=("names", "markers"), role="processor", card="pair segment",
    ),
    Option(
        "max_seq_length", 512, "Token budget of one pair sequence, special tokens included (the paper's 512); with "
        "`encoding` `packed`, of one document window and a pair segment. Named so because transformers reserves "
        "`max_length` for generation settings.",
        role="processor", card="max sequence length", type_name="int",
    ),
    Option(
        "entity_text", "first_mention", "What the head and tail segments contain: `first_mention` (the entity's "
        "earliest mention in the text), `all_mentions` (its distinct mention strings joined by "
        "`entity_separator`), or `longest_mention`.",
        choices=("first_mention", "all_mentions", "longest_mention"), role="processor", card="entity text",
    ),
    Option(
        "entity_separator", " ; ", "Separator between mention strings when `entity_text` is `all_mentions`.",
        role="processor",
    ),
    Option(
        "max_entity_tokens", 64, "Longest an entity segment may be, in tokens; longer segments are cut (and "
        "reported).",
        role="processor", type_name="int",
    ),
    Option(
        "entity_markers", "none", "Whether the document segment marks the pair's mentions: `none` (the paper), "
        "`plain` (every head mention wrapped in the head start/end markers, every tail mention in the tail "
        "markers), or `typed` (as `plain`, with the entity type written after the start marker).",
        choices=("none", "plain", "typed"), role="processor", card="entity markers",
    ),
    Option(
        "marker_tokens", DEFAULT_MARKER_TOKENS, "The four marker tokens: head start, head end, tail start, tail "
        "end (`[unused0]`..`[unused3]` of the BERT vocabulary).",
        role="processor", cli=False, type_name="list[str]",
    ),
    Option(
        "long_document_strategy", "mention_windows", "What survives when document tokens do not fit the budget "
        "left by the entity segments: `mention_windows` keeps the sentences that mention the head or the tail, "
        "then their nearest neighbouring sentences, in document order (token windows around the mentions if even "
        "those do not fit); `truncate_tail` keeps the beginning of the document. Both are reported.",
        choices=("mention_windows", "truncate_tail"), role="processor", card="long documents",
    ),
    Option(
        "pair_types", None, "Entity-type constraint on candidate pairs, as `[head_type, tail_type]` items (on the "
        "command line `HEAD:TAIL`, e.g. `CHEM:DISE` for CDR). `None` scores every ordered pair of distinct "
        "entities.",
        role="processor", card="candidate pair types", type_name="list[list[str]]",
    ),
    # ---- the model --------------------------------------------------------------------------------------------
    Option(
        "freeze_encoder", True, "Whether the encoder (embeddings, transformer layers and pooler) is frozen, as in "
        "the paper; the head is then trained on cached pair vectors.",
        card="encoder frozen", type_name="bool",
    ),
    Option(
        "pooling", "pooler", "How the pair sequence becomes one vector: `pooler` (BERT's pooled [CLS], the "
        "paper), `cls` (the last hidden state of [CLS]), `mean` (mean of the last hidden states), or `markers` "
        "(the [CLS] state concatenated with the head's and the tail's start-marker states; needs "
        "`entity_markers` other than `none`).",
        choices=("pooler", "cls", "mean", "markers"), card="pooling",
    ),
    Option(
        "marker_pooling", "first", "With `pooling` `markers`, how the start markers of an entity's several "
        "mentions become one vector: `first`, `mean`, or `logsumexp` (a smooth maximum, as ATLOP pools mentions).",
        choices=("first", "mean", "logsumexp"), card="marker pooling",
    ),
    Option(
        "context_pooling", "none", "With `pooling` `markers` and `encoding` `packed`, whether each pair's vector "
        "also holds a context vector read from its document: `none`, or `localized` (ATLOP's localized context "
        "pooling, Zhou et al., 2021, section 'Localized Context Pooling': the last layer's attention of the head's "
        "and of the tail's mention markers over the document's tokens, averaged over each entity's mentions, "
        "multiplied per attention head, averaged over the attention heads and normalised, weights the document's "
        "last hidden states; a marker attends within its own window, and the attention takes no dropout).",
        choices=("none", "localized"), card="context pooling",
    ),
    Option(
        "classifier", "linear", "The classification head: `linear` (the paper: tanh, dropout, one linear layer) "
        "or `group_bilinear` (ATLOP's grouped bilinear classifier, Zhou et al., 2021, section 'Enhanced BERT "
        "Baseline'; needs `pooling` `markers`): the head's and the tail's vectors, each with the pair's context "
        "([CLS] and any localized context), go through dropout, a linear layer and tanh; each logit reads the "
        "products of their features within groups of `bilinear_block_size`.",
        choices=("linear", "group_bilinear"), card="classifier",
    ),
    Option(
        "bilinear_block_size", 64, "With `classifier` `group_bilinear`, the features of one group (ATLOP's 64); "
        "the encoder's `hidden_size` must be a multiple of it.",
        card="bilinear block size", type_name="int",
    ),
    Option(
        "classifier_dropout", 0.3, "Dropout before the classifier (the paper's 0.3).",
        card="classifier dropout", type_name="float",
    ),
    Option(
        "loss", "bce", "Training loss: `bce` (binary cross-entropy over all classes, multi-label) or "
        "`adaptive_threshold` (ATLOP's loss: the no-relation class is a learned per-pair threshold).",
        choices=("bce", "adaptive_threshold"), card="loss",
    ),
    Option(
        "evidence_loss_weight", 0.0, "With `context_pooling` `localized`, the weight of DREEAM's evidence loss "
        "(Ma et al., EACL 2023, 'DREEAM: Guiding Attention with Evidence for Improving Document-Level Relation "
        "Extraction'), added to the relation loss in training: each related pair's localized-context weights, "
        "summed per sentence, are drawn towards the sentences its labels give as evidence (Kullback-Leibler "
        "divergence from a uniform distribution over them). 0 (the default): no evidence loss, as ATLOP. Needs "
        "training labels with evidence (DocRED's and Re-DocRED's have them) and a trained encoder; the relations "
        "are predicted as without it, and the model also predicts each pair's evidence sentences "
        "(`evidence_threshold`).",
        card="evidence loss weight", type_name="float",
    ),
    Option(
        "entity_types", [], "The mention types the built-in entity detector tags, in a fixed order (its BIO "
        "classes: 0 is O, `1 + 2k` the B tag of `entity_types[k]`, `2 + 2k` its I tag). Empty: the model has no "
        "entity detector, and its inputs must name their entities. `train.py --entity_detection` sets it from the "
        "training documents' mention types.",
        cli=False, type_name="list[str]",
    ),
    # ---- decisions --------------------------------------------------------------------------------------------
    Option(
        "decision_rule", "threshold", "How logits become relations: `threshold` predicts a relation when its "
        "sigmoid score exceeds its threshold; `adaptive` when its logit exceeds the no-relation logit (for models "
        "trained with the adaptive-threshold loss).",
        choices=("threshold", "adaptive"), role="decision", card="decision rule",
    ),
    Option(
        "threshold", 0.5, "Global probability threshold of the `threshold` rule.",
        role="decision", type_name="float",
    ),
    Option(
        "evidence_threshold", 0.2, "With `evidence_loss_weight` above 0: a sentence is predicted as evidence of a "
        "pair's relations when its share of the pair's localized-context weight (the weights of its tokens, "
        "summed) is above this (0.2, the default of DREEAM's code, Ma et al., EACL 2023).",
        role="decision", cli=False, type_name="float",
    ),
    Option(
        "relation_thresholds", None, "Per-relation thresholds that override `threshold` for the relations they "
        "name.",
        role="decision", cli=False, type_name="dict[str, float]",
    ),
    Option(
        "max_relations_per_pair", None, "Keep at most this many relations per pair (the highest scoring); `None` "
        "keeps all.",
        role="decision", type_name="int",
    ),
    Option(
        "coreference", "names", "How the built-in entity detector groups the mentions it finds into entities: "
        "`names` (the name rule of `entities_globalre.group_mentions_by_name`: same type and same normalized name, "
        "or a PER/ORG name's last words) or `learned` (the model's mention-pair scorer, pairs linked above "
        "`coreference_threshold`, entities as connected components).",
        choices=("names", "learned"), role="decision", cli=False,
    ),
    Option(
        "coreference_threshold", 0.5, "With `coreference` `learned`, the probability above which two mentions are "
        "linked as one entity.",
        role="decision", cli=False, type_name="float",
    ),
    Option(
        "type_constraints", False, "Keep only relations whose (head type, tail type) was seen with that relation "
        "in the training data (`relation_type_pairs`), so that, for instance, a number is never a country. A pair "
        "with an untyped entity is not filtered. The pipeline's `type_constraints=` overrides it per call.",
        choices=(False, True), role="decision", card="type constraints", type_name="bool",
    ),
    Option(
        "relation_type_pairs", None, "For each relation, the `[head type, tail type]` pairs it holds between in the "
        "training data; `train.py` records them. Read by `type_constraints`.",
        role="decision", cli=False, type_name="dict[str, list[list[str]]]",
    ),
)  # fmt: skip
OPTION = {option.name: option for option in OPTIONS}
#: The settings of a `GlobalReProcessor`, stored in the model config too so the two always agree.
PROCESSOR_OPTIONS = tuple(option.name for option in OPTIONS if option.role == "processor")


def marker_slots_in_inputs(encoding: str, entity_markers: str, pair_segment: str) -> tuple[int, ...]:
    """Which of the four `marker_tokens` (0 head start, 1 head end, 2 tail start, 3 tail end) the inputs that these
    options build hold: all four around the head's and the tail's mentions of a one-pair sequence, the first two
    around every mention of a packed document, the last two as the levitated head and tail markers of a packed
    `markers` pair segment; none without them. The marker ids a model records, a tokenizer must know and
    `--freeze_word_embeddings` trains are these."""
    slots = set()
    if entity_markers != "none":
        slots.update((0, 1, 2, 3) if encoding != "packed" else (0, 1))
    if encoding == "packed" and pair_segment == "markers":
        slots.update((2, 3))
    return tuple(sorted(slots))


def marker_slots_of(options: dict[str, Any]) -> tuple[int, ...]:
    """`marker_slots_in_inputs` of GlobalRE option values (e.g. `GlobalReConfig` keyword arguments), the
    documented default for an option not given."""
    names = ("encoding", "entity_markers", "pair_segment")
    return marker_slots_in_inputs(*(options.get(name, OPTION[name].default) for name in names))


def check_four_markers(owner: str, values: Any, what: str) -> None:
    """Raises a `ValueError` naming `owner` (e.g. "GlobalReConfig.marker_tokens") unless `values` holds one entry
    per marker token, `what` they are."""
    if len(values) != 4:
        raise ValueError(
            f"{owner} must hold four {what} (head start, head end, tail start, tail end); got {values!r}."
        )


def _options_docstring() -> str:
    lines = []
    for option in OPTIONS:
        default = "None" if option.default is None else repr(option.default).replace("'", '"')
        lines.append(f"        {option.name} (`{option.type_name}`, *optional*, defaults to `{default}`):")
        words, line = option.doc.split(), "           "
        for word in words:
            if len(line) + len(word) + 1 > 116:
                lines.append(line)
                line = "           "
            line += " " + word
        lines.append(line)
    return "\n".join(lines)


def check_option_values(values: dict[str, Any]) -> None:
    """Raises a `ValueError` naming the field when a GlobalRE option is not one of its choices, or when options
    that depend on each other disagree. Only the options in `values` are checked (a rule is checked when all its
    options are there), so a command line can be checked before any model exists."""
    for option in OPTIONS:
        if option.name in values:
            option.check(values[option.name])

    def given(*names: str) -> bool:
        return all(name in values for name in names)

    if given("entity_types"):
        types = values["entity_types"]
        if not isinstance(types, (list, tuple)) or not all(isinstance(t, str) and t.strip() for t in types):
            raise ValueError(
                f"GlobalReConfig.entity_types must be a list of non-empty type names; got {types!r}."
            )
        repeated = sorted({t for t in types if list(types).count(t) > 1})
        if repeated:
            raise ValueError(
                f"GlobalReConfig.entity_types must not repeat a type; {repeated} occur twice or more."
            )
    if given("coreference_threshold"):
        threshold = values["coreference_threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
            raise ValueError(
                f"GlobalReConfig.coreference_threshold must be a probability between 0 and 1; got {threshold!r}."
            )

    if (
        given("pair_segment", "encoding")
        and values["pair_segment"] != "names"
        and values["encoding"] != "packed"
    ):
        raise ValueError(f'GlobalReConfig.pair_segment="{values["pair_segment"]}" needs encoding="packed".')
    if given("type_constraints", "relation_type_pairs") and values["type_constraints"]:
        if not values["relation_type_pairs"]:
            raise ValueError(
                "GlobalReConfig.type_constraints=True needs relation_type_pairs (the type pairs seen with each "
                "relation in training; train.py records them)."
            )
    if (
        given("pooling", "entity_markers")
        and values["pooling"] == "markers"
        and values["entity_markers"] == "none"
    ):
        raise ValueError('GlobalReConfig.pooling="markers" needs entity_markers="plain" or "typed".')
    if given("evidence_loss_weight"):
        weight = values["evidence_loss_weight"]
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < math.inf:
            raise ValueError(
                f"GlobalReConfig.evidence_loss_weight must be a finite number >= 0; got {weight!r}."
            )
        if weight > 0 and given("context_pooling") and values["context_pooling"] != "localized":
            raise ValueError(
                'GlobalReConfig.evidence_loss_weight > 0 needs context_pooling="localized" (the evidence loss '
                "supervises the localized context's weights over the document's sentences)."
            )
    if given("evidence_threshold"):
        cut = values["evidence_threshold"]
        if isinstance(cut, bool) or not isinstance(cut, (int, float)) or not 0 < cut <= 1:
            raise ValueError(
                "GlobalReConfig.evidence_threshold must be a number in (0, 1] (a share of a pair's localized-context "
                f"weight); got {cut!r}."
            )
    if given("context_pooling", "pooling", "encoding") and values["context_pooling"] != "none":
        if values["pooling"] != "markers" or values["encoding"] != "packed":
            raise ValueError(
                f'GlobalReConfig.context_pooling="{values["context_pooling"]}" needs pooling="markers" and '
                'encoding="packed" (it reads the attention of the mention markers in the document\'s own pass).'
            )
    if (
        given("classifier", "pooling")
        and values["classifier"] == "group_bilinear"
        and values["pooling"] != "markers"
    ):
        raise ValueError(
            'GlobalReConfig.classifier="group_bilinear" needs pooling="markers" (head and tail vectors).'
        )
    if given("bilinear_block_size"):
        block = values["bilinear_block_size"]
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise ValueError(f"GlobalReConfig.bilinear_block_size must be a positive integer; got {block!r}.")


class GlobalReConfig(PreTrainedConfig):
    r"""
    Configuration of a [`GlobalReForRelationExtraction`] model. The defaults reproduce the paper
    ("Multi-Relation Extraction in Entity Pairs using Global Context", arXiv 2507.22926): a frozen
    bert-base-uncased encoder reads `[CLS] document [SEP] head entity [SEP] tail entity [SEP]` for one
    ordered entity pair; its pooled [CLS] passes through tanh, dropout 0.3 and a linear layer with one
    sigmoid output per relation.

    Args:
        encoder_config (`BertConfig` or `dict`, *optional*):
            Configuration of the BERT encoder. Defaults to the bert-base-uncased shape. Its `vocab_size` must fit
            the processor's tokenizer (`GlobalReProcessor.check_fits_encoder`). With `type_vocab_size=1`
            (RoBERTa-style encoders) every token is read as type 0, the entity segments told apart from the
            document by the `[SEP]`s between them alone; otherwise the entity segments are type 1.
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
        classifier_dropout: float = OPTION["classifier_dropout"].default,
        freeze_encoder: bool = OPTION["freeze_encoder"].default,
        pooling: str = OPTION["pooling"].default,
        marker_pooling: str = OPTION["marker_pooling"].default,
        context_pooling: str = OPTION["context_pooling"].default,
        classifier: str = OPTION["classifier"].default,
        bilinear_block_size: int = OPTION["bilinear_block_size"].default,
        max_seq_length: int = OPTION["max_seq_length"].default,
        encoding: str = OPTION["encoding"].default,
        pair_segment: str = OPTION["pair_segment"].default,
        entity_text: str = OPTION["entity_text"].default,
        entity_separator: str = OPTION["entity_separator"].default,
        max_entity_tokens: int = OPTION["max_entity_tokens"].default,
        entity_markers: str = OPTION["entity_markers"].default,
        marker_tokens: list[str] | None = None,
        long_document_strategy: str = OPTION["long_document_strategy"].default,
        decision_rule: str = OPTION["decision_rule"].default,
        threshold: float = OPTION["threshold"].default,
        relation_thresholds: dict[str, float] | None = None,
        max_relations_per_pair: int | None = OPTION["max_relations_per_pair"].default,
        type_constraints: bool = OPTION["type_constraints"].default,
        relation_type_pairs: dict[str, list[list[str]]] | None = None,
        loss: str = OPTION["loss"].default,
        evidence_loss_weight: float = OPTION["evidence_loss_weight"].default,
        evidence_threshold: float = OPTION["evidence_threshold"].default,
        pair_types: list[list[str]] | None = None,
        marker_token_ids: list[int] | None = None,
        entity_types: list[str] | None = None,
        coreference: str = OPTION["coreference"].default,
        coreference_threshold: float = OPTION["coreference_threshold"].default,
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
        self.context_pooling = context_pooling
        self.classifier = classifier
        self.bilinear_block_size = bilinear_block_size
        self.max_seq_length = max_seq_length
        self.encoding = encoding
        self.pair_segment = pair_segment
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
        self.type_constraints = type_constraints
        self.relation_type_pairs = (
            {label: [list(types) for types in pairs] for label, pairs in relation_type_pairs.items()}
            if relation_type_pairs
            else None
        )
        self.loss = loss
        self.evidence_loss_weight = evidence_loss_weight
        self.evidence_threshold = evidence_threshold
        self.pair_types = [list(p) for p in pair_types] if pair_types else None
        self.marker_token_ids = list(marker_token_ids) if marker_token_ids else None
        # a string or another non-list is kept as given, so that the check below names it
        self.entity_types = list(entity_types) if isinstance(entity_types, (list, tuple)) else entity_types
        if self.entity_types is None:
            self.entity_types = []
        self.coreference = coreference
        self.coreference_threshold = coreference_threshold
        super().__init__(**kwargs)
        if self.id2label is not None and not self.label2id:
            self.label2id = {label: index for index, label in self.id2label.items()}
        self.validate_globalre_fields()

    def validate_globalre_fields(self) -> None:
        """Raises a `ValueError` naming the field when a GlobalRE option is not one of its documented values."""
        check_option_values({option.name: getattr(self, option.name) for option in OPTIONS})
        check_four_markers("GlobalReConfig.marker_tokens", self.marker_tokens, "tokens")
        if self.marker_token_ids is not None:
            check_four_markers("GlobalReConfig.marker_token_ids", self.marker_token_ids, "vocabulary ids")
        needs_no_relation = self.loss == "adaptive_threshold" or self.decision_rule == "adaptive"
        if needs_no_relation and self.no_relation_label is None:
            raise ValueError(
                "The adaptive-threshold loss and decision rule use the no-relation class as the threshold; "
                "set GlobalReConfig.no_relation_label."
            )
        hidden_size = self.encoder_config.hidden_size
        if self.classifier == "group_bilinear" and hidden_size % self.bilinear_block_size:
            divisors = [str(block) for block in (64, 32, 16, 8, 4, 2, 1) if hidden_size % block == 0][:3]
            raise ValueError(
                f"GlobalReConfig.bilinear_block_size={self.bilinear_block_size} must divide the encoder's hidden_size "
                f'({hidden_size}) for classifier="group_bilinear": choose a divisor of {hidden_size} such as '
                f'{" or ".join(divisors)}, or classifier="linear".'
            )
        if self.max_seq_length < 16 or self.max_seq_length > self.encoder_config.max_position_embeddings:
            raise ValueError(
                f"GlobalReConfig.max_seq_length={self.max_seq_length} must lie between 16 and the encoder's "
                f"max_position_embeddings ({self.encoder_config.max_position_embeddings})."
            )

    @property
    def processor_settings(self) -> dict[str, Any]:
        """The settings of the processor that builds this model's inputs (`PROCESSOR_OPTIONS`)."""
        return {name: getattr(self, name) for name in PROCESSOR_OPTIONS}

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

    @property
    def predicts_evidence(self) -> bool:
        """Whether the model predicts evidence sentences: trained with DREEAM's evidence loss
        (`evidence_loss_weight` above 0, which `check_option_values` allows only with the packed encoding's
        localized context)."""
        return self.evidence_loss_weight > 0

    def relation_name(self, label: str) -> str:
        """Readable name of a relation id (the id itself when no name is known)."""
        return self.relation_names.get(label, label)


GlobalReConfig.__doc__ = GlobalReConfig.__doc__.rstrip() + "\n" + _options_docstring() + "\n    "
GlobalReConfig.register_for_auto_class()
# Known to AutoConfig in this process, so that loading a saved directory (its tokenizer included) needs no
# remote-code prompt when these files are imported locally.
AutoConfig.register(GlobalReConfig.model_type, GlobalReConfig, exist_ok=True)

__all__ = [
    "CUSTOM_PIPELINES",
    "DEFAULT_MARKER_TOKENS",
    "PIPELINE_FILE",
    "PIPELINE_TASK",
    "OPTION",
    "OPTIONS",
    "PROCESSOR_OPTIONS",
    "GlobalReConfig",
    "Option",
    "check_option_values",
]
