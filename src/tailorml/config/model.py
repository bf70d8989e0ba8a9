"""The model configuration: what goes in, how it is encoded, what comes out.

Config objects only hold typed fields with defaults; they do no work. Every
class forbids unknown keys so a typo is an error, never silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tailorml.config.introspect import fields_at
from tailorml.config.registry import register_options, registered
from tailorml.errors import dash_hint

# Types are strict in every config block: an integer field takes only an
# integer (``epochs: true`` and ``epochs: "5"`` are errors, not 1 and 5), a
# float field a finite integer or float but never a boolean (nor .inf or .nan),
# a text field only text.
STRICT_TYPES = ConfigDict(strict=True, allow_inf_nan=False)


class Strict(BaseModel):
    """Base for config blocks: unknown keys are errors and types are strict."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, **STRICT_TYPES)


class EncoderConfig(BaseModel):
    """An encoder chosen by its registered name; its options are validated by
    the options class the encoder registered (see ``tailorml.models``), with
    types as strict as in every other block."""

    model_config = ConfigDict(extra="allow", **STRICT_TYPES)

    name: str

    def preprocessor(self, feature_type: str) -> tuple[str, dict[str, Any]]:
        """The preprocessor kind of a feature this encoder reads, and options it
        adds: the type's own, unless the encoder tokenizes with its own tokenizer."""
        return feature_type, {}


def validate_encoder(raw: Any, default: str) -> EncoderConfig:
    """Turn an ``encoder:`` block into the registered encoder's options object.

    Raises:
        PydanticCustomError: unknown encoder name or bad options; the error's
            context carries the location inside the block for line lookup.
    """
    if isinstance(raw, EncoderConfig) and type(raw) is not EncoderConfig:
        return raw
    return validate_plugin(raw, default, "encoder", "encoder")  # type: ignore[return-value]


def validate_plugin(raw: Any, default: str, kind: str, block: str) -> BaseModel:
    """Turn a plug-in's block (``encoder:``, ``generator:``) into the options object
    its registered class declares; ``block`` is the key the error names (empty: the
    block is the field itself).

    Raises:
        PydanticCustomError: unknown name or bad options; the error's context
            carries the location inside the block for line lookup.
    """
    data = raw.model_dump() if isinstance(raw, BaseModel) else raw
    if data is None or isinstance(data, str):
        data = {"name": default if data is None else data}
    if not isinstance(data, dict):
        raise PydanticCustomError(f"{kind}_type", "expected a mapping with a 'name' key")
    data = {"name": default, **data}
    plugins = registered(kind)
    options = plugins.get(str(data["name"]))
    if options is None:
        tip = dash_hint(str(data["name"]), plugins) or "."
        raise PydanticCustomError(
            "plugin_options",
            "unknown {kind} '{bad}'{tip} Registered {kind}s: {names}.",
            {"kind": kind, "bad": data["name"], "tip": tip, "names": ", ".join(plugins),
             "subloc": ("name",), "block": block},
        )  # fmt: skip
    try:
        return options.model_validate(data)
    except ValidationError as err:
        # an unknown key explains a "field required" next to it, so report it first
        first = min(err.errors(), key=lambda e: e["type"] != "extra_forbidden")
        loc = tuple(first["loc"])
        where = ".".join(str(p) for p in loc)
        if first["type"] == "extra_forbidden":
            valid = fields_at(options, loc[:-1])
            msg = f"unknown option '{where}' for {kind} '{data['name']}'"
            msg += dash_hint(str(loc[-1]), valid)
            msg += f" Valid options here: {', '.join(valid)}."
        else:
            msg = f"{kind} option '{where}': {first['msg']} (got {first.get('input')!r})"
        detail = {"detail": msg, "subloc": loc, "block": block}
        raise PydanticCustomError("plugin_options", "{detail}", detail) from None


class NumberPreprocessing(Strict):
    missing: Literal["mean", "median", "zero", "fail"] = "mean"
    normalization: Literal["zscore", "minmax", "none"] = "zscore"


class CategoryPreprocessing(Strict):
    missing: Literal["unknown", "fail"] = "unknown"
    max_categories: int | None = Field(default=None, ge=1)
    min_count: int = Field(default=1, ge=1)


class BinaryPreprocessing(Strict):
    positive: str | None = None
    missing: Literal["false", "fail"] = "false"


class TextPreprocessing(Strict):
    tokenizer: Literal["word", "char"] = "word"
    lowercase: bool = True
    max_length: int = Field(default=64, ge=1)
    max_vocab: int = Field(default=20000, ge=2)
    min_count: int = Field(default=1, ge=1)
    truncation: Literal["right", "left"] = "right"


class ImagePreprocessing(Strict):
    height: int | None = Field(default=None, ge=1)
    width: int | None = Field(default=None, ge=1)
    channels: int | None = Field(default=None, ge=1, le=4)
    scale: float = Field(default=255.0, gt=0)
    resize: bool = False


class SpecAugmentOptions(Strict):
    """SpecAugment-style masking of the spectrogram, in training only (Park et al., 2019)."""

    freq_masks: int = Field(default=2, ge=0, description="Bands of mel/MFCC bins masked per clip.")
    freq_width: int = Field(default=5, ge=1, description="Widest frequency mask, in bins.")
    time_masks: int = Field(default=2, ge=0, description="Spans of frames masked per clip.")
    time_width: int = Field(default=10, ge=1, description="Widest time mask, in frames.")


class AudioPreprocessing(Strict):
    sample_rate: int | None = Field(
        default=None, ge=1000, le=192000,
        description="Hz the model hears; None: the first training clip's rate, recorded.",
    )  # fmt: skip
    resample: bool = Field(
        default=True,
        description="Resample clips at another rate and average multi-channel clips to mono; "
        "false: refuse them with an error naming the file.",
    )
    duration: float | None = Field(
        default=None, gt=0, le=60,
        description="Seconds every clip is padded (silence) or trimmed to; None: the 99th "
        "percentile of the training clips' lengths (the longest 1 % are trimmed), recorded.",
    )  # fmt: skip
    features: Literal["log_mel", "mfcc"] = "log_mel"
    n_mels: int = Field(default=40, ge=4, le=256)
    n_mfcc: int = Field(default=13, ge=2, le=128, description="mfcc only; at most n_mels.")
    window_ms: float = Field(default=25.0, gt=0, le=200)
    hop_ms: float = Field(default=10.0, gt=0, le=100)
    normalize: bool = Field(
        default=True, description="Scale each mel band / coefficient by training mean and std."
    )
    spec_augment: SpecAugmentOptions | None = None

    @model_validator(mode="after")
    def _fits(self) -> AudioPreprocessing:
        if self.features == "mfcc" and self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc {self.n_mfcc} exceeds n_mels {self.n_mels}")
        if self.hop_ms > self.window_ms:
            raise ValueError(f"hop_ms {self.hop_ms} exceeds window_ms {self.window_ms}")
        return self


class _InputBase(Strict):
    default_encoder: ClassVar[str] = "embed_mlp"  # when the feature names no encoder
    name: str = Field(min_length=1)
    encoder: SerializeAsAny[EncoderConfig] | None = None

    @model_validator(mode="after")
    def _check_encoder(self) -> _InputBase:
        object.__setattr__(self, "encoder", validate_encoder(self.encoder, self.default_encoder))
        return self


class NumberFeature(_InputBase):
    type: Literal["number"]
    preprocessing: NumberPreprocessing = NumberPreprocessing()


class CategoryFeature(_InputBase):
    type: Literal["category"]
    preprocessing: CategoryPreprocessing = CategoryPreprocessing()


class BinaryFeature(_InputBase):
    type: Literal["binary"]
    preprocessing: BinaryPreprocessing = BinaryPreprocessing()


class TextFeature(_InputBase):
    default_encoder = "rnn"
    type: Literal["text"]
    preprocessing: TextPreprocessing = TextPreprocessing()

    @model_validator(mode="after")
    def _checkpoint_tokenizes(self) -> TextFeature:
        """An encoder with its own tokenizer (a pretrained checkpoint's) ignores
        the word vocabulary options, so setting them is an error."""
        if self.encoder is None or self.encoder.preprocessor(self.type)[0] == self.type:
            return self
        default = TextPreprocessing()
        ignored = [
            name
            for name in ("tokenizer", "lowercase", "max_vocab", "min_count")
            if getattr(self.preprocessing, name) != getattr(default, name)
        ]
        if ignored:
            raise PydanticCustomError(
                "checkpoint_tokenizer",
                "input feature '{name}' uses the pretrained encoder, which tokenizes with its "
                "checkpoint's own tokenizer; preprocessing.{ignored} does not apply (only "
                "max_length and truncation do)",
                {"name": self.name, "ignored": ", preprocessing.".join(ignored)},
            )
        return self


class ImageFeature(_InputBase):
    default_encoder = "cnn"
    type: Literal["image"]
    preprocessing: ImagePreprocessing = ImagePreprocessing()


class AudioFeature(_InputBase):
    default_encoder = "cnn"
    type: Literal["audio"]
    preprocessing: AudioPreprocessing = AudioPreprocessing()


InputFeature = Annotated[
    NumberFeature | CategoryFeature | BinaryFeature | TextFeature | ImageFeature | AudioFeature,
    Field(discriminator="type"),
]


class OutputFeature(Strict):
    name: str = Field(min_length=1)
    type: str = Field(description="A registered output type: category, binary or number.")
    positive: str | None = Field(
        default=None, description="For binary outputs: the label that counts as positive."
    )

    @field_validator("type")
    @classmethod
    def _registered(cls, kind: str) -> str:
        names = registered("output")
        if kind not in names:
            tip = dash_hint(kind, names) or "."
            raise ValueError(f"unknown output type '{kind}'{tip} Registered: {', '.join(names)}")
        return kind


# A text output is written by a generator (``generator:``), token by token, not decoded
# by one of the output types of features/outputs.py; configs may name it all the same.
register_options("output", "text", BaseModel)


class GeneratorConfig(BaseModel):
    """A text generator chosen by its registered name (``seq2seq``, ``causal_lm``,
    ``retrieval``, ``copy``); its options are validated by the options class the
    generator registered (see ``tailorml.models.generation``)."""

    model_config = ConfigDict(extra="allow", **STRICT_TYPES)

    name: str


class GenerationConfig(Strict):
    """Limits and decoding of a text output (``type: text``).

    Token counts are in the generator's own tokens (its subword vocabulary, or a
    pretrained model's tokenizer).
    """

    max_source_tokens: int = Field(default=64, ge=1, description="Longest input text read.")
    max_target_tokens: int = Field(default=64, ge=1, description="Longest output written.")
    overlong: Literal["truncate", "refuse"] = Field(
        default="truncate",
        description="Training texts over a limit: cut to it and counted in metrics.json "
        "(truncated_sources / truncated_targets), or refused with an error naming the rows.",
    )
    strategy: Literal["greedy", "beam", "sample"] = "greedy"
    beam_size: int = Field(default=4, ge=1, le=32, description="beam: hypotheses kept.")
    length_penalty: float = Field(
        default=0.6, ge=0, description="beam: GNMT length penalty exponent (0: none)."
    )
    temperature: float = Field(default=1.0, gt=0, description="sample: softmax temperature.")
    top_k: int | None = Field(default=None, ge=1, description="sample: keep the k likeliest.")
    top_p: float | None = Field(
        default=None, gt=0, le=1, description="sample: keep the smallest set reaching p."
    )
    seed: int = Field(default=0, description="sample: the random generator's seed.")
    output_pii: Literal["allow", "redact"] = Field(
        default="allow",
        description="redact: personal data the model writes (e-mails, phone numbers, cards…) "
        "is replaced by <ENTITY_TYPE> before any caller sees it (predict, evaluate, serve).",
    )


class CombinerConfig(Strict):
    type: Literal["concat"] = "concat"


class DecoderConfig(Strict):
    """MLP decoder between the combined encodings and the output head."""

    name: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Field(ge=1)]] = [128]
    activation: Literal["relu", "gelu", "tanh", "sigmoid", "none"] = "relu"
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)


class PrivacyConfig(Strict):
    """Differentially private training (DP-SGD with Opacus)."""

    epsilon: float = Field(gt=0, description="Target privacy budget ε for the whole training.")
    delta: float = Field(default=1e-5, gt=0, lt=1, description="Target δ.")
    max_grad_norm: float = Field(default=1.0, gt=0, description="Per-sample gradient clip.")


class FairnessTraining(Strict):
    """Bias mitigation during training: Kamiran–Calders reweighing.

    Each training row is weighted by P(group) · P(label) / P(group, label), so
    that in the weighted data the label is independent of the sensitive
    groups (all combinations of the listed columns' values).
    """

    method: Literal["reweigh"] = "reweigh"
    sensitive: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="Sensitive columns of the data (need not be inputs)."
    )


class TrainingConfig(Strict):
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    learning_rate: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    momentum: float = Field(default=0.9, ge=0, description="SGD only.")
    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=64, ge=1)
    eval_batch_size: int = Field(default=1024, ge=1)
    loss: Literal["auto", "cross_entropy", "binary_cross_entropy", "mse", "mae", "huber"] = "auto"
    lr_schedule: Literal["constant", "cosine", "step", "exponential"] = "constant"
    lr_step_epochs: int = Field(default=1, ge=1, description="step schedule: epochs per step.")
    lr_gamma: float = Field(default=0.5, gt=0, le=1, description="step/exponential decay factor.")
    warmup_epochs: int = Field(default=0, ge=0)
    warmup_steps: int = Field(
        default=0, ge=0, description="Linear warm-up over the first optimizer steps."
    )
    early_stopping_patience: int | None = Field(default=None, ge=1)
    gradient_clipping: float | None = Field(default=None, gt=0, description="Max gradient norm.")
    seed: int = 0
    precision: Literal["fp32", "bf16"] = "fp32"
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: a CUDA GPU when there is one, else the CPU."
    )
    privacy: PrivacyConfig | None = None
    fairness: FairnessTraining | None = None

    @model_validator(mode="after")
    def _private_or_reweighed(self) -> TrainingConfig:
        if self.privacy is not None and self.fairness is not None:
            raise PydanticCustomError(
                "privacy_and_reweigh",
                "training.privacy and training.fairness cannot be combined: DP-SGD's "
                "accounting assumes every row counts the same; mitigate a private model "
                "with decision thresholds instead (tailor audit --mitigate)",
            )
        return self


class SplitConfig(Strict):
    """How rows are divided into train / validation / test.

    ``auto`` uses the data set's own split when it has one (built-in data sets,
    fixed files) and a stratified (classification) or random split otherwise.
    ``group`` keeps all rows of one value of ``group`` on one side (a speaker, a
    patient, a customer), so the test set holds only groups training never saw.
    """

    method: Literal["auto", "random", "stratified", "fixed", "group"] = "auto"
    group: str | None = Field(
        default=None, min_length=1, description="method group: the column whose values stay whole."
    )
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    validation_fraction: float = Field(default=0.1, ge=0, lt=1)
    validation_data: Literal["split", "test"] = Field(
        default="split",
        description="'test' evaluates on the test set each epoch, like Keras validation_data.",
    )
    test_file: str | None = None
    validation_file: str | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _group_named(self) -> SplitConfig:
        if (self.method == "group") != (self.group is not None):
            raise ValueError("split.group names the column of method 'group', and only of it")
        return self


class DataConfig(Strict):
    source: str = Field(min_length=1, description="A file, a folder or builtin:NAME.")
    target: str | None = None
    format: Literal["auto", "csv", "parquet", "images", "audio", "idx"] = "auto"
    pattern: str | None = Field(
        default=None,
        description="format audio: file names such as '{digit}_{speaker}_{index}.wav', whose "
        "fields become columns; None: one sub-folder of clips per class.",
    )
    split: SplitConfig = SplitConfig()
    bad_rows: Literal["fail", "drop"] = "fail"
    encoding: str = "utf-8"
    delimiter: str = ","
    pii: Literal["allow", "redact", "drop_column", "fail"] = Field(
        default="allow", description="What to do with personal data found in text columns."
    )
    pii_columns: list[str] | None = Field(
        default=None, description="Columns to scan for personal data; default: every text column."
    )


class ModelConfig(Strict):
    """A model: data → input features → encoders → combiner → decoder → output."""

    data: DataConfig
    input_features: list[InputFeature] = Field(min_length=1)
    output_features: list[OutputFeature] = Field(min_length=1, max_length=1)
    combiner: CombinerConfig = CombinerConfig()
    decoder: DecoderConfig = DecoderConfig()
    generator: SerializeAsAny[GeneratorConfig] | None = Field(
        default=None, description="type text outputs: the model that writes them (seq2seq)."
    )
    generation: GenerationConfig = GenerationConfig()
    training: TrainingConfig = TrainingConfig()
    init: Literal["torch", "keras"] = Field(
        default="torch", description="'keras': Glorot-uniform weights and zero biases."
    )

    @field_validator("input_features")
    @classmethod
    def _unique_names(cls, feats: list[Any]) -> list[Any]:
        names = [f.name for f in feats]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"input feature names must be unique; repeated: {', '.join(dupes)}")
        return feats

    @field_validator("generator", mode="before")
    @classmethod
    def _check_generator(cls, raw: Any) -> Any:
        if raw is None or (isinstance(raw, GeneratorConfig) and type(raw) is not GeneratorConfig):
            return raw
        return validate_plugin(raw, "seq2seq", "generator", "")

    @model_validator(mode="after")
    def _text_output_has_generator(self) -> ModelConfig:
        """A text output is written by a generator from one text input; any
        other output has no generator."""
        out = self.output
        if out.type != "text":
            if self.generator is not None:
                raise PydanticCustomError(
                    "generator_without_text",
                    "a generator writes text: output '{o}' has type {t}; remove 'generator' "
                    "or make the output type text",
                    {"o": out.name, "t": out.type},
                )
            return self
        texts = [f.name for f in self.input_features if f.type == "text"]
        if len(self.input_features) != 1 or len(texts) != 1:
            raise PydanticCustomError(
                "generation_inputs",
                "a text output is generated from exactly one text input; input_features has {got}",
                {"got": ", ".join(f"{f.name} ({f.type})" for f in self.input_features)},
            )
        if self.generator is None:
            object.__setattr__(self, "generator", validate_plugin(None, "seq2seq", "generator", ""))
        return self

    @model_validator(mode="after")
    def _target_matches_output(self) -> ModelConfig:
        out = self.output_features[0].name
        if self.data.target is None:
            self.data.target = out
        elif self.data.target != out:
            raise PydanticCustomError(
                "target_mismatch",
                "data.target '{t}' differs from the output feature '{o}'; they must name "
                "the same column",
                {"t": self.data.target, "o": out},
            )
        if self.training.fairness is not None and self.output.type == "number":
            raise PydanticCustomError(
                "reweigh_regression",
                "training.fairness reweighs rows by group and label, so it needs a "
                "classification output; '{o}' is a number",
                {"o": out},
            )
        if out in {f.name for f in self.input_features}:
            raise PydanticCustomError(
                "target_is_input", "the target '{o}' is also listed as an input feature", {"o": out}
            )
        return self

    @property
    def output(self) -> OutputFeature:
        return self.output_features[0]
