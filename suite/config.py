"""Run configurations: YAML files validated with pydantic, errors in one line.

A config names the data set and protocol, the input, the models, the budgets, the
seeds, the training protocol and what to measure; see ``configs/*.yaml``.

YAML anchors and aliases (``&name``, ``*name``) are refused: nine nested aliases expand
to a billion values (the "billion laughs"), and a config gains nothing from them. An
error message repeats at most :data:`~suite.errors.ECHO_LIMIT` characters of a value.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from suite.budget import Budget, parse_budget
from suite.crossval import Evaluation, resolve_evaluation
from suite.data.base import DATASETS
from suite.deploy.quantize import CALIBRATION_BATCHES
from suite.errors import SuiteError, short_repr, short_text
from suite.input_spec import FeatureKind, InputSpec
from suite.measure.costs import LatencySettings
from suite.metrics import MACS, ONNXRUNTIME, PARAMS
from suite.models import resolve_model_names
from suite.streaming.settings import StreamingSettings
from suite.train import TrainingConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSection(_Section):
    """The data set, its protocol and its options.

    ``protocol`` is one protocol, ``cv`` (every fold: k-fold cross-validation, see
    :mod:`suite.crossval`) or a list of protocols; ``protocols`` is the same as a list.
    """

    name: str
    protocol: str | list[str] | None = None
    protocols: list[str] | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        DATASETS.get(name)  # raises with the available names
        return name

    @model_validator(mode="after")
    def _known_protocols(self) -> DatasetSection:
        if self.protocol is not None and self.protocols is not None:
            raise ValueError("give protocol or protocols, not both")
        self.evaluation()  # an unknown protocol, or cv without folds, fails when the config is read
        return self

    def evaluation(self) -> Evaluation:
        """The protocols this section names and the label its records carry."""
        return resolve_evaluation(DATASETS.get(self.name), self.protocols if self.protocols is not None else self.protocol)


_SPEC = InputSpec()  # the defaults below are InputSpec's own


class InputSection(_Section):
    """The :class:`InputSpec` fields; ``sample_rate`` defaults to the data set's own."""

    sample_rate: int | None = Field(None, gt=0)
    clip_seconds: float = Field(_SPEC.clip_seconds, gt=0)
    feature: FeatureKind = _SPEC.feature
    n_mels: int = Field(_SPEC.n_mels, gt=0)
    n_mfcc: int = Field(_SPEC.n_mfcc, gt=0)
    win_ms: float = Field(_SPEC.win_ms, gt=0)
    hop_ms: float = Field(_SPEC.hop_ms, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> InputSection:
        """Check the cross-field rules of InputSpec when the config is read, not mid-run."""
        self.spec(self.sample_rate or _SPEC.sample_rate)
        return self

    def spec(self, native_rate: int) -> InputSpec:
        values = self.model_dump()
        values["sample_rate"] = values["sample_rate"] or native_rate
        return InputSpec(**values)


class BudgetSection(_Section):
    params: str | int | None = None
    macs: str | int | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> BudgetSection:
        if (self.params is None) == (self.macs is None):
            raise ValueError("give exactly one of params or macs")
        parse_budget(self.params if self.params is not None else self.macs)  # type: ignore[arg-type]
        return self

    def budget(self) -> Budget:
        return Budget.parse(PARAMS, self.params) if self.params is not None else Budget.parse(MACS, self.macs)  # type: ignore[arg-type]


class MeasureSection(_Section):
    """What to measure besides accuracy; parameters and MACs are always counted.

    ``latency``: time each trained model (see :class:`LatencySettings`); ``memory``: peak
    memory of one inference (batch 1) and one training step (training batch size);
    ``quantize``: int8 methods (``dynamic``, ``static``) whose models are tested and, with
    ``latency``, timed in ONNX Runtime (see :mod:`suite.deploy`); ``calibration_batches``:
    training batches the static method calibrates on; ``streaming``: the cost per hop of
    listening to a stream (see :class:`~suite.streaming.settings.StreamingSettings`).
    """

    latency: LatencySettings | None = None
    streaming: StreamingSettings | None = None
    memory: bool = False
    quantize: list[Literal["dynamic", "static"]] = Field(default_factory=list)
    calibration_batches: int = Field(CALIBRATION_BATCHES, ge=1, description="training batches static int8 calibrates on")

    @model_validator(mode="after")
    def _int8_beside_its_float(self) -> MeasureSection:
        if self.quantize and self.latency is not None and ONNXRUNTIME not in self.latency.backends:
            raise ValueError(
                f"measure.quantize times the int8 models in ONNX Runtime: add {ONNXRUNTIME} to measure.latency.backends "
                "so their float32 model is timed there too"
            )
        if len(set(self.quantize)) != len(self.quantize):
            raise ValueError("measure.quantize names a method twice")
        return self


class RunConfig(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    dataset: DatasetSection
    input: InputSection = Field(default_factory=InputSection)
    models: list[str] | str = Field("all", validate_default=True)
    budgets: list[BudgetSection] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    measure: MeasureSection = Field(default_factory=MeasureSection)
    on_error: Literal["raise", "skip"] = "raise"
    tolerance: float = Field(0.05, gt=0, lt=1)
    #: Seconds one trial may take (features, training, measuring); a trial past it is
    #: stopped and recorded as failed. ``None``: no limit.
    trial_timeout: float | None = Field(None, gt=0)

    @field_validator("budgets", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """Accept ``{params: [25k, 100k]}`` as well as ``[{params: 25k}, {params: 100k}]``."""
        if isinstance(value, dict):
            return [{kind: item} for kind, items in value.items() for item in (items if isinstance(items, list) else [items])]
        return value

    @model_validator(mode="after")
    def _streaming_hop_is_the_inputs(self) -> RunConfig:
        wanted = self.measure.streaming.hop_ms if self.measure.streaming is not None else None
        if wanted is not None and wanted != self.input.hop_ms:
            raise ValueError(
                f"measure.streaming.hop_ms ({wanted:g}) differs from input.hop_ms ({self.input.hop_ms:g}): "
                "a model steps one feature frame per hop"
            )
        return self

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: list[str] | str) -> list[str]:
        names = resolve_model_names(value if isinstance(value, str) else ",".join(value))
        return names

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct")
        return seeds


#: The longest message a validator of another module may give (it lists the names available, too).
MESSAGE_LIMIT = 600


class AnchorError(yaml.MarkedYAMLError):
    """A YAML anchor or alias in a config file."""


class _ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without anchors and aliases: a config cannot expand into a bomb."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
            raise AnchorError(problem=f"YAML {kind} {short_text(str(event.anchor), 40)!r}", problem_mark=event.start_mark)
        return super().compose_node(parent, index)


def _suggestion(model: type[BaseModel], location: tuple[Any, ...]) -> str:
    """' (did you mean X?)' for an unknown key, looking up the fields at its location."""
    for part in location[:-1]:
        field = model.model_fields.get(str(part)) if isinstance(part, str) else None
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = difflib.get_close_matches(short_text(str(location[-1])), list(model.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(error: ValidationError) -> str:
    """The first error in one line: where, what, and the value given (each cut to a readable length)."""
    first = error.errors(include_url=False)[0]
    where = short_text(".".join(str(part) for part in first["loc"]) or "config")
    if first["type"] == "extra_forbidden":
        return f"unknown key {where!r}{_suggestion(RunConfig, first['loc'])}"
    if first["type"] == "missing":
        return f"missing key {where!r}"
    message = short_text(" ".join(first["msg"].removeprefix("Value error, ").split()), MESSAGE_LIMIT)
    return f"{where}: {message} (got {short_repr(first['input'])})" if "input" in first else f"{where}: {message}"


def parse_config(data: Any, source: str = "config") -> RunConfig:
    """Validate a config already loaded from YAML. Errors name the source and the key."""
    if not isinstance(data, dict):
        raise SuiteError(f"{source}: expected a mapping of settings at the top level, got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise SuiteError(f"{source}: {_describe(error)}") from None
    except SuiteError as error:  # unknown model or data set names raised by the validators
        raise SuiteError(f"{source}: {short_text(' '.join(str(error).split()), MESSAGE_LIMIT)}") from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML config file."""
    return parse_config(read_config_data(path), str(path))


def read_config_data(path: str | Path) -> Any:
    """The settings of a YAML config file, not yet validated (what :func:`parse_config` takes)."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"config file {path} not found")
    try:
        data = yaml.load(path.read_text(), Loader=_ConfigLoader)  # a SafeLoader that refuses aliases
    except AnchorError as error:
        mark = error.problem_mark
        raise SuiteError(
            f"{path}: {error.problem} at line {mark.line + 1}, column {mark.column + 1}: anchors and aliases are not "
            "allowed in a config (write the value out where it is used)"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = short_text(" ".join(str(getattr(error, "problem", None) or error).split()))
        raise SuiteError(f"{path}: malformed YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as error:  # unreadable, or not text
        raise SuiteError(f"cannot read the config file {path}: {getattr(error, 'strerror', None) or error}") from None
    except ValueError as error:  # a value YAML reads but Python refuses, e.g. an integer of over 4,300 digits
        raise SuiteError(f"{path}: {short_text(' '.join(str(error).split()))}") from None
    return data
