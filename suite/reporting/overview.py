"""What was run, from the manifests: data set, front end, training protocol, budgets, seeds, machine, versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suite import numbers
from suite.metrics import EPOCHS, MACS, PARAMS  # EPOCHS: the training config names its limit as the metric
from suite.reporting.tables import Cell, Table
from suite.results.load import RunInfo


def started_text(manifest: dict[str, Any]) -> str:
    """``2026-11-29 00:30 UTC, ended 00:46 (15 min 38 s)``; ``not ended`` for a run still going."""
    try:
        start = datetime.fromisoformat(manifest["started"])
    except (KeyError, TypeError, ValueError):
        return numbers.MISSING
    text = start.strftime("%Y-%m-%d %H:%M UTC")
    try:
        end = datetime.fromisoformat(manifest["ended"])
    except (KeyError, TypeError, ValueError):
        return f"{text}, not ended"
    return f"{text}, ended {end.strftime('%Y-%m-%d %H:%M')} ({numbers.seconds((end - start).total_seconds())})"


def dataset_text(manifest: dict[str, Any]) -> str:
    """``fsdd v1.0.10, protocol official: 2,400 train / 300 validation / 300 test, 10 classes``."""
    data = manifest.get("dataset") or {}
    if not data:
        return numbers.MISSING
    text = f"{data.get('name', '?')} {data.get('version', '')}".strip() + f", protocol {data.get('protocol', '?')}"
    folds = data.get("folds") if isinstance(data.get("folds"), dict) else {}
    if folds:
        text += f" ({len(folds)}-fold cross-validation: {', '.join(folds)})"
    examples = data.get("examples") or {}
    if examples:
        text += ": " + " / ".join(f"{int(n):,} {split}" for split, n in examples.items()) + (" per fold" if folds else "")
    if data.get("classes"):
        text += f", {data['classes']} classes"
    return text


def frontend_text(spec: dict[str, Any]) -> str:
    """``logmel, 40 mel bins, 25 ms windows, 10 ms hop; 1 s clips at 8 kHz``."""
    if not spec:
        return numbers.MISSING
    feature = spec.get("feature", "?")
    clip = f"{numbers.plain(spec.get('clip_seconds'))} s clips at {numbers.plain(spec.get('sample_rate', 0) / 1000)} kHz"
    if feature == "raw":
        return f"raw waveform; {clip}"
    bins = (
        f"{spec.get('n_mfcc')} coefficients of {spec.get('n_mels')} mel bins"
        if feature == "mfcc"
        else f"{spec.get('n_mels')} mel bins"
    )
    return (
        f"{feature}, {bins}, {numbers.plain(spec.get('win_ms'))} ms windows, {numbers.plain(spec.get('hop_ms'))} ms hop; {clip}"
    )


def training_text(training: dict[str, Any]) -> str:
    """The training protocol in one sentence, from the config's ``training`` section."""
    if not training:
        return numbers.MISSING
    t = training
    return (
        f"AdamW (lr {t.get('lr')}, weight decay {t.get('weight_decay')}), {t.get('schedule')} schedule, "
        f"up to {t.get(EPOCHS)} epochs with early stopping after {t.get('patience')} epochs without a better "
        f"validation accuracy, batch {t.get('batch_size')}, label smoothing {t.get('label_smoothing')}, "
        f"gradient clipping at norm {t.get('grad_clip')}; augmentation: time shift up to {t.get('time_shift_ms')} ms, "
        f"{t.get('freq_masks')} frequency masks of up to {t.get('freq_mask_width')} bins, "
        f"{t.get('time_masks')} time masks of up to {t.get('time_mask_width')} frames"
    )


def budgets_text(config: dict[str, Any]) -> str:
    parts = []
    for section in config.get("budgets") or []:
        for kind in (PARAMS, MACS):
            if isinstance(section, dict) and section.get(kind) is not None:
                parts.append(f"{section[kind]} {kind.label}")
    return ", ".join(parts) or numbers.MISSING


def measured_text(config: dict[str, Any]) -> str:
    """What besides accuracy and counts was measured: the latency settings and memory."""
    measure = config.get("measure") or {}
    parts = []
    latency = measure.get("latency")
    if latency:
        parts.append(
            f"latency on {', '.join(latency.get('devices', []))}, batch {'/'.join(map(str, latency.get('batch_sizes', [])))}, "
            f"{'/'.join(map(str, latency.get('threads', [])))} thread(s), {', '.join(latency.get('backends', []))}, "
            f"{latency.get('min_run_time')} s per figure"
        )
    if measure.get("memory"):
        parts.append("peak memory")
    if measure.get("quantize"):
        methods = ", ".join(measure["quantize"])
        parts.append(f"int8 ({methods}; static calibrated on {measure.get('calibration_batches')} training batches)")
    return "; ".join(parts) if parts else "accuracy, parameters and MACs only (the config has no measure section)"


def machine_text(manifest: dict[str, Any]) -> str:
    env = manifest.get("environment") or {}
    if not env:
        return numbers.MISSING
    gpu = f"GPU {env['gpu']} (CUDA {env.get('cuda')})" if env.get("gpu") else "no GPU"
    return (
        f"{env.get('cpu')}, {env.get('cpu_count')} CPUs, {env.get('torch_threads')} torch threads, {gpu}; {env.get('platform')}"
    )


def software_text(manifest: dict[str, Any]) -> str:
    env = manifest.get("environment") or {}
    if not env:
        return numbers.MISSING
    git = env.get("git") or {}
    commit = (git.get("commit") or "unknown commit")[:10]
    state = {True: " (uncommitted changes)", False: "", None: ""}.get(git.get("dirty"), "")
    libraries = ", ".join(f"{k} {v}" for k, v in (env.get("libraries") or {}).items() if v)
    return f"suite {env.get('suite_version')} at {commit}{state}; Python {env.get('python')}; {libraries}"


def config_text(run: RunInfo) -> str:
    """``configs/default.yaml: FSDD official split, ...``: the file and its description."""
    description = (run.manifest.get("config") or {}).get("description") or ""
    source = run.manifest.get("config_source") or numbers.MISSING
    return f"{source}: {description}" if description else str(source)


def status_text(run: RunInfo) -> str:
    done = f"{run.n_trials} of {run.planned} trials" if run.planned is not None else f"{run.n_trials} trials"
    word = {"running": "in progress (partial results)", "complete": "complete"}.get(run.status, run.status)
    return f"{word}: {done}"


def overview(runs: list[RunInfo]) -> Table:
    """One column per run, one row per property, so runs (and machines) compare side by side."""
    fields = [
        ("status", status_text),
        ("started", lambda r: started_text(r.manifest)),
        ("config", config_text),
        ("data set", lambda r: dataset_text(r.manifest)),
        ("front end", lambda r: frontend_text(r.manifest.get("input_spec") or {})),
        ("models", lambda r: ", ".join((r.manifest.get("config") or {}).get("models") or []) or numbers.MISSING),
        ("budgets", lambda r: budgets_text(r.manifest.get("config") or {})),
        ("seeds", lambda r: ", ".join(map(str, (r.manifest.get("config") or {}).get("seeds") or [])) or numbers.MISSING),
        ("training", lambda r: training_text((r.manifest.get("config") or {}).get("training") or {})),
        ("measured", lambda r: measured_text(r.manifest.get("config") or {})),
        ("device", lambda r: str(r.manifest.get("device") or numbers.MISSING)),
        ("machine", lambda r: machine_text(r.manifest)),
        ("software", lambda r: software_text(r.manifest)),
    ]
    rows = [[Cell(name)] + [Cell(text(run)) for run in runs] for name, text in fields]
    return Table([""] + [run.name for run in runs], rows, "What was run, from each run's manifest.json.")
