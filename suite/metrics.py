"""Every metric the suite records, defined once: its column, unit, direction, aggregation over seeds, format and judge.

In the manner of lm-evaluation-harness's ``api/metrics.py``: a metric declares what it
is, and the results folder, the report, ``suite compare`` and ``suite history`` read the
declaration instead of repeating it. A :class:`Metric` *is* its column name (a ``str``),
so ``record[ACCURACY]`` and ``frame[PARAMS]`` read as the column they are; no metric
name is written as a string anywhere else in the package (``tests/test_metrics.py``
checks that).

The **headline latency** is one setting, :data:`HEADLINE`: model scope, CPU, eager,
batch 1, and the fewest threads the run timed (1 unless a config says otherwise).
``latency_ms`` is that setting's median; ``suite compare`` and ``suite history`` follow
the same setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from suite import numbers

Direction = Literal["higher", "lower"]
#: How a metric's per-trial values become one per model: ``spread`` keeps mean, sample std, min
#: and max over seeds; ``mean`` the mean; ``first`` one value (it does not vary with the seed).
OverSeeds = Literal["spread", "mean", "first"]
#: The judge of ``suite compare`` (its threshold's name in ``--fail-on``), or ``None`` when not judged.
Judge = Literal["quality", "latency", "memory", "count"]


class Metric(str):
    """A metric: its column name (the string itself) and how the suite treats it.

    Attributes:
        label (str): Its name for people (table headings, axes).
        unit (str): Its unit as shown (``"%"``, ``"ms"``, ``"MiB"``, ``""``).
        direction (Direction | None): Which way is better; ``None`` for a fact with no better side.
        over_seeds (OverSeeds): How it aggregates over seeds and folds.
        judge (Judge | None): How ``suite compare`` judges a change of it.
        show (Callable[[Any], str]): Formats one value for people (:mod:`suite.numbers`).
        setting (Mapping | None): For a latency, the timed setting it is the median of
            (:data:`HEADLINE` with its backend and precision); ``suite history`` follows it.
        per_machine (bool): Whether it measures the machine as much as the model (a time,
            a rate, a memory peak): such figures from two machines are never averaged, while
            the others (accuracy, counts, epochs) pool over the trials of a run that several
            machines shared (:mod:`suite.reporting.summary`).
    """

    label: str
    unit: str
    direction: Direction | None
    over_seeds: OverSeeds
    judge: Judge | None
    show: Callable[[Any], str]
    setting: Mapping[str, Any] | None
    per_machine: bool

    def __new__(
        cls,
        name: str,
        *,
        label: str,
        unit: str,
        show: Callable[[Any], str],
        direction: Direction | None = None,
        over_seeds: OverSeeds = "mean",
        judge: Judge | None = None,
        setting: Mapping[str, Any] | None = None,
        per_machine: bool = False,
    ) -> Metric:
        metric = super().__new__(cls, name)
        metric.label, metric.unit, metric.show = label, unit, show
        metric.direction, metric.over_seeds, metric.judge = direction, over_seeds, judge
        metric.setting, metric.per_machine = setting, per_machine
        return metric

    def __reduce__(self) -> tuple[Callable[[str], Metric], tuple[str]]:
        return by_name, (str(self),)  # unpickled (a Ray worker) as the one definition, not a copy

    @property
    def name(self) -> str:
        return str(self)


def _bytes(value: Any) -> str:
    return numbers.mebibytes(float(value) / 2**20) if not numbers.missing(value) else numbers.MISSING


#: What identifies one timed figure: its setting. ``dtype`` is ``float32``, or ``int8_<method>`` for a quantized model.
TIMED_SETTING = ("scope", "device", "backend", "dtype", "batch_size", "threads")
FLOAT32 = "float32"
#: The headline latency setting (see the module docstring); the threads are the fewest the run timed.
HEADLINE: Mapping[str, Any] = {"scope": "model", "device": "cpu", "backend": "eager", "batch_size": 1, "dtype": FLOAT32}
#: The deployment runtime of :mod:`suite.deploy`, and the int8 methods it quantizes with (a timing's ``dtype``).
ONNXRUNTIME = "onnxruntime"
#: A further runtime of the same ONNX files (CPU only).
OPENVINO = "openvino"
#: The backends that run the exported ONNX file rather than the PyTorch module.
ONNX_BACKENDS = (ONNXRUNTIME, OPENVINO)
QUANTIZE_METHODS = ("dynamic", "static")


def int8_dtype(method: str) -> str:
    """The ``dtype`` of a timing of the ``method`` int8 model: ``int8_static``."""
    return f"int8_{method}"


ACCURACY = Metric(
    "accuracy", label="accuracy", unit="%", show=numbers.percent, direction="higher", over_seeds="spread", judge="quality"
)
MACRO_F1 = Metric(
    "macro_f1", label="macro-F1", unit="%", show=numbers.percent, direction="higher", over_seeds="spread", judge="quality"
)
PARAMS = Metric("params", label="params", unit="", show=numbers.count, direction="lower", over_seeds="first", judge="count")
MACS = Metric("macs", label="MACs", unit="", show=numbers.count, direction="lower", over_seeds="first", judge="count")
FLOPS = Metric("flops", label="FLOPs", unit="", show=numbers.count, over_seeds="first")
MODEL_BYTES = Metric("model_bytes", label="model size", unit="MiB", show=_bytes, over_seeds="first")
BUDGET_ERROR = Metric("budget_error", label="budget error", unit="%", show=numbers.signed_percent, over_seeds="first")
EPOCHS = Metric("epochs", label="epochs", unit="", show=numbers.plain)
BEST_EPOCH = Metric("best_epoch", label="best epoch", unit="", show=numbers.plain)
TRAIN_SECONDS = Metric("train_seconds", label="train time", unit="s", show=numbers.seconds, direction="lower", per_machine=True)
SAMPLES_PER_SECOND = Metric(
    "samples_per_second", label="training rate", unit="/s", show=numbers.rate, direction="higher", per_machine=True
)
LATENCY_MS = Metric(
    "latency_ms",
    label="latency CPU b1",
    unit="ms",
    show=numbers.milliseconds,
    direction="lower",
    judge="latency",
    setting=HEADLINE,
    per_machine=True,
)
LATENCY_MIN_MS = Metric(
    "latency_min_ms", label="latency, fastest block", unit="ms", show=numbers.milliseconds, direction="lower", per_machine=True
)
LATENCY_E2E_MS = Metric(
    "latency_e2e_ms", label="latency e2e CPU b1", unit="ms", show=numbers.milliseconds, direction="lower", per_machine=True
)
LATENCY_IQR_MS = Metric("latency_iqr_ms", label="latency IQR", unit="ms", show=numbers.milliseconds, per_machine=True)
LATENCY_REL = Metric(
    "latency_rel", label="latency ÷ reference", unit="x", show=numbers.ratio, direction="lower", judge="latency", per_machine=True
)
THROUGHPUT = Metric("throughput", label="throughput", unit="/s", show=numbers.rate, direction="higher", per_machine=True)
GFLOPS_ACHIEVED = Metric(
    "gflops_achieved", label="GFLOP/s achieved", unit="GFLOP/s", show=numbers.plain, direction="higher", per_machine=True
)
MATMUL_GFLOPS = Metric("matmul_gflops", label="reference matmul GFLOP/s", unit="GFLOP/s", show=numbers.plain, per_machine=True)
PEAK_MEM_INFER_MB = Metric(
    "peak_mem_infer_mb",
    label="peak memory, inference",
    unit="MiB",
    show=numbers.mebibytes,
    direction="lower",
    judge="memory",
    per_machine=True,
)
PEAK_MEM_TRAIN_MB = Metric(
    "peak_mem_train_mb",
    label="peak memory, training step",
    unit="MiB",
    show=numbers.mebibytes,
    direction="lower",
    judge="memory",
    per_machine=True,
)

# Deployment (suite.deploy): the float32 model exported to ONNX and run by ONNX Runtime,
# and its int8 versions. Latencies are the headline setting with that runtime and precision.
ONNX_MAX_ABS_DIFF = Metric("onnx_max_abs_diff", label="ONNX max |Δ logit|", unit="", show=numbers.scientific, over_seeds="mean")
MODEL_BYTES_ONNX = Metric("model_bytes_onnx", label="ONNX size", unit="MiB", show=_bytes, direction="lower", over_seeds="first")


def _span(value: Any) -> str:
    """A receptive field in ms; infinite (a recurrent state carries the whole past) is ``unbounded``."""
    return "unbounded" if not numbers.missing(value) and math.isinf(float(value)) else numbers.plain(value)


def _text(value: Any) -> str:
    """A word (a mode, a stability); missing (``None``, NaN) is the dash."""
    return numbers.MISSING if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


# Streaming (suite.streaming): one hop at a time, batch 1, one thread.
STREAM_MODE = Metric("stream_mode", label="streams as", unit="", show=_text, over_seeds="first")
STREAM_FRAME_MS = Metric(
    "stream_frame_ms",
    label="per-hop latency",
    unit="ms",
    show=numbers.milliseconds,
    direction="lower",
    over_seeds="first",
    per_machine=True,
)
STREAM_FRAME_P99_MS = Metric(
    "stream_frame_p99_ms",
    label="per-hop p99",
    unit="ms",
    show=numbers.milliseconds,
    direction="lower",
    over_seeds="first",
    per_machine=True,
)
STREAM_FRONTEND_MS = Metric(
    "stream_frontend_ms",
    label="front end per hop",
    unit="ms",
    show=numbers.milliseconds,
    direction="lower",
    over_seeds="first",
    per_machine=True,
)
STREAM_RTF = Metric(
    "stream_rtf", label="real-time factor", unit="x", show=numbers.ratio, direction="lower", over_seeds="first", per_machine=True
)
STREAM_STATE_BYTES = Metric(
    "stream_state_bytes", label="state", unit="B", show=numbers.count, direction="lower", over_seeds="first"
)
STREAM_LOOKAHEAD_MS = Metric(
    "stream_lookahead_ms", label="lookahead", unit="ms", show=numbers.plain, direction="lower", over_seeds="first"
)
STREAM_RECEPTIVE_FIELD_MS = Metric(
    "stream_receptive_field_ms", label="receptive field", unit="ms", show=_span, over_seeds="first"
)
STREAM_STABILITY = Metric("stream_stability", label="per-hop timing", unit="", show=_text, over_seeds="first", per_machine=True)
#: Metrics whose values are words, not numbers (the loader keeps them as text).
TEXT_METRICS = (STREAM_MODE, STREAM_STABILITY)
#: Metrics for which infinity is a value, not an error: a recurrent state's receptive field is unbounded.
INFINITE_METRICS = (STREAM_RECEPTIVE_FIELD_MS,)
#: Every streaming figure, in the order tables show them.
STREAMING = (
    STREAM_MODE, STREAM_FRAME_MS, STREAM_FRAME_P99_MS, STREAM_FRONTEND_MS, STREAM_RTF,
    STREAM_STATE_BYTES, STREAM_LOOKAHEAD_MS, STREAM_RECEPTIVE_FIELD_MS, STREAM_STABILITY,
)  # fmt: skip


def _runtime_latency(backend: str, name: str) -> Metric:
    """The headline latency (float32) of the exported model in ``backend``."""
    return Metric(
        f"latency_ms_{backend}", label=f"latency CPU b1 {name}", unit="ms", show=numbers.milliseconds, direction="lower",
        setting={**HEADLINE, "backend": backend}, per_machine=True,
    )  # fmt: skip


LATENCY_MS_ONNXRUNTIME = _runtime_latency(ONNXRUNTIME, "ONNX Runtime")
LATENCY_MS_OPENVINO = _runtime_latency(OPENVINO, "OpenVINO")


@dataclass(frozen=True)
class Int8Metrics:
    """The figures of one int8 method: accuracy, macro-F1 and the drop from float32, latency, size."""

    accuracy: Metric
    macro_f1: Metric
    drop: Metric
    latency: Metric
    size: Metric

    def __iter__(self) -> Iterator[Metric]:
        return iter((self.accuracy, self.macro_f1, self.drop, self.latency, self.size))

    @classmethod
    def of(cls, method: str) -> Int8Metrics:
        name = int8_dtype(method)
        return cls(
            accuracy=Metric(
                f"accuracy_{name}", label=f"accuracy int8 {method}", unit="%", show=numbers.percent, direction="higher",
                over_seeds="spread", judge="quality",
            ),
            macro_f1=Metric(
                f"macro_f1_{name}", label=f"macro-F1 int8 {method}", unit="%", show=numbers.percent, direction="higher",
                over_seeds="spread", judge="quality",
            ),
            drop=Metric(
                f"accuracy_drop_{name}", label=f"accuracy drop int8 {method}", unit="pt", show=numbers.points,
                direction="lower", over_seeds="spread",
            ),
            latency=Metric(
                f"latency_ms_{name}", label=f"latency CPU b1 int8 {method}", unit="ms", show=numbers.milliseconds,
                direction="lower", setting={**HEADLINE, "backend": ONNXRUNTIME, "dtype": name}, per_machine=True,
            ),
            size=Metric(
                f"model_bytes_{name}", label=f"size int8 {method}", unit="MiB", show=_bytes, direction="lower",
                over_seeds="first",
            ),
        )  # fmt: skip


#: Each int8 method's metrics.
INT8: dict[str, Int8Metrics] = {method: Int8Metrics.of(method) for method in QUANTIZE_METHODS}
DEPLOYED: tuple[Metric, ...] = (
    ONNX_MAX_ABS_DIFF,
    MODEL_BYTES_ONNX,
    LATENCY_MS_ONNXRUNTIME,
    LATENCY_MS_OPENVINO,
    *(metric for method in QUANTIZE_METHODS for metric in INT8[method]),
)


@dataclass(frozen=True)
class Scores:
    """Quality metrics computed from one set of per-example test predictions.

    Attributes:
        accuracy (Metric): Its accuracy.
        macro_f1 (Metric): Its macro-F1.
        predictions (str): The record field holding the predicted class of every test
            example (the targets are ``test_targets``), for the paired tests of ``suite compare``.
    """

    accuracy: Metric
    macro_f1: Metric
    predictions: str


#: The float32 model's scores, then each int8 method's: ``suite compare`` judges each pair the same way.
SCORES: tuple[Scores, ...] = (
    Scores(ACCURACY, MACRO_F1, "test_predictions"),
    *(Scores(INT8[m].accuracy, INT8[m].macro_f1, f"test_predictions_{int8_dtype(m)}") for m in QUANTIZE_METHODS),
)

#: What a budget may count.
BUDGET_KINDS: tuple[Metric, ...] = (PARAMS, MACS)
BudgetKind = Literal["params", "macs"]  # typing needs the literals; BUDGET_KINDS is the definition
#: Metrics of a trial's quality (from its test predictions), judged against the seed-to-seed spread.
QUALITY: tuple[Metric, ...] = (ACCURACY, MACRO_F1)
#: Training's own figures.
TRAINING: tuple[Metric, ...] = (EPOCHS, BEST_EPOCH, TRAIN_SECONDS, SAMPLES_PER_SECOND)
#: The timed figures of ``measure_costs``, in its order.
TIMED: tuple[Metric, ...] = (
    LATENCY_MS,
    LATENCY_MIN_MS,
    LATENCY_E2E_MS,
    LATENCY_IQR_MS,
    LATENCY_REL,
    THROUGHPUT,
    GFLOPS_ACHIEVED,
    MATMUL_GFLOPS,
)
MEMORY: tuple[Metric, ...] = (PEAK_MEM_INFER_MB, PEAK_MEM_TRAIN_MB)
#: Every metric, in the order of ``results.csv``'s columns (``flops`` is kept in ``trials.jsonl`` only).
METRICS: tuple[Metric, ...] = (
    *BUDGET_KINDS, MODEL_BYTES, BUDGET_ERROR, *QUALITY, *TRAINING, *TIMED, *MEMORY, *DEPLOYED, *STREAMING, FLOPS
)  # fmt: skip
_BY_NAME: dict[str, Metric] = {str(metric): metric for metric in METRICS}


def budget_text(kind: str, value: Any) -> str:
    """A budget as a heading: ``('params', 100000) -> '100 k params'``, ``('macs', 2e6) -> '2 M MACs'``."""
    label = _BY_NAME[kind].label if kind in _BY_NAME else str(kind)
    return f"{numbers.count(value)} {label}" if not numbers.missing(value) else label


def by_name(name: str) -> Metric:
    """The metric whose column is ``name``.

    Raises:
        KeyError: when no metric has that column.
    """
    return _BY_NAME[name]


def judged_by(*judges: Judge) -> tuple[Metric, ...]:
    """The metrics ``suite compare`` judges with any of ``judges``, in :data:`METRICS` order."""
    return tuple(metric for metric in METRICS if metric.judge in judges)


def is_metric(name: object) -> bool:
    return isinstance(name, str) and name in _BY_NAME


def shown(name: str, value: Any) -> str:
    """``value`` of column ``name`` as people read it: the metric's own format, else the value as text."""
    metric = _BY_NAME.get(name)
    if metric is not None:
        return metric.show(value)
    return numbers.MISSING if value is None else str(value)


def seed_aggregations(metrics: Iterable[Metric], kinds: Iterable[OverSeeds] = ("spread", "mean")) -> dict[str, tuple[str, str]]:
    """Named aggregations (for ``DataFrame.groupby(...).agg(**...)``) of ``metrics`` over the seeds of a group.

    A ``spread`` metric gives ``<name>_mean``, ``<name>_std`` (sample, NaN for one seed),
    ``<name>_min`` and ``<name>_max``; a ``mean`` metric its mean under its own name; a
    ``first`` metric its first value under its own name. Only metrics whose kind is in ``kinds``.
    """
    wanted = set(kinds)
    specs: dict[str, tuple[str, str]] = {}
    for metric in metrics:
        if metric.over_seeds not in wanted:
            continue
        if metric.over_seeds == "spread":
            specs |= {f"{metric}_{stat}": (str(metric), stat) for stat in ("mean", "std", "min", "max")}
        else:
            specs[str(metric)] = (str(metric), "first" if metric.over_seeds == "first" else "mean")
    return specs


def is_headline(setting: Mapping[str, Any], fewest_threads: int = 1, headline: Mapping[str, Any] = HEADLINE) -> bool:
    """Whether a timed ``setting`` (:data:`TIMED_SETTING`) is the headline one (or ``headline``, a metric's setting).

    A setting without a ``dtype`` (a summary written before int8 models were timed) is float32.
    """
    matches = all(setting.get(key, FLOAT32 if key == "dtype" else None) == value for key, value in headline.items())
    return matches and int(setting.get("threads", 1)) == fewest_threads
