"""How each figure was obtained, stated next to the numbers: counts, training, statistics, timing, memory, data.

The facts come from the manifests (MAC convention, training settings, data set citation
and licence) and from the code that measured them (the timer's warm-up and reference
kernel), so the text cannot drift from what was done.
"""

from __future__ import annotations

from dataclasses import dataclass

from suite.reporting.overview import training_text
from suite.reporting.tables import Cell, Table
from suite.results.load import RunInfo


@dataclass
class Item:
    """One paragraph of the methodology: a short title and its text."""

    title: str
    text: str


def _distinct(values: list[str]) -> list[str]:
    return [v for v in dict.fromkeys(values) if v]


def _mac_convention(runs: list[RunInfo]) -> str:
    stated = _distinct([str(run.manifest.get("mac_convention") or "") for run in runs])
    if stated:
        return "; ".join(stated)
    from suite.measure.counting import MAC_CONVENTION  # an old or missing manifest: the code's own statement

    return MAC_CONVENTION


def methodology(runs: list[RunInfo], latency_measured: bool, memory_measured: bool) -> list[Item]:
    """The methodology paragraphs for these runs."""
    from suite.measure.latency import ROUNDS, WARMUP_CALLS
    from suite.measure.reference import COMPUTE_SIZE
    from suite.measure.stability import MAX_ATTEMPTS

    configs = [run.manifest.get("config") or {} for run in runs]
    tolerances = _distinct([f"{float(c['tolerance']):.0%}" for c in configs if c.get("tolerance") is not None]) or ["5%"]
    trainings = _distinct([training_text(c.get("training") or {}) for c in configs if c.get("training")])
    items = [
        Item(
            "Budgets",
            "Each family has one width knob; the width whose count is nearest the target is chosen by binary search, "
            f"and a target that no width reaches within {' / '.join(tolerances)} is recorded as infeasible with the "
            "reachable range instead of being trained. Params are trainable parameters (shared tensors once).",
        ),
        Item("MACs", _mac_convention(runs) + ". Every op left out is listed in the trial's uncounted_ops (trials.jsonl)."),
        Item(
            "Training protocol",
            (" / ".join(trainings) or "as in the suite's defaults")
            + ". Inputs are standardised with the training split's per-bin mean and std. Every trial is seeded "
            "(initialisation, shuffling, augmentation, dropout) and runs with deterministic algorithms; the best "
            "validation epoch's weights are restored before the test set is scored.",
        ),
        Item(
            "Statistics",
            "Accuracy and macro-F1 are on the test split. Tables show the mean ± the sample standard deviation "
            "(ddof 1) over the seeds that finished, with their number; one seed has no spread. Rank orders the mean "
            "accuracy within a leaderboard, ties sharing a rank. Latency and memory are the mean over seeds of each "
            "trial's figure. The best value of each column is in bold (highest accuracy and macro-F1, lowest cost). "
            "A cross-validation (protocol cv) shows the mean over the test folds, each fold first averaged over its "
            "seeds, ± the standard deviation across folds, and each fold's accuracy.",
        ),
        Item(
            "Latency",
            f"torch.utils.benchmark.Timer.blocked_autorange after {WARMUP_CALLS} warm-up calls, models in eval mode "
            "under torch.inference_mode, float32, thread count set explicitly, in "
            f"{ROUNDS} rounds with a reference kernel timed between them; the figure is the median of the timed "
            "blocks (the minimum, inter-quartile range and every block's time are kept in trials.jsonl). Scope 'model' "
            "is features in, logits out; 'e2e' adds the front end (waveform in). Latency ÷ reference divides each "
            "block by the reference of its round: a dispatch-bound tiny perceptron step for batch 1, a float32 "
            f"{COMPUTE_SIZE} x {COMPUTE_SIZE} matrix product for larger batches. A figure whose reference drifted or "
            f"whose rounds or blocks disagreed is re-measured (up to {MAX_ATTEMPTS} attempts) and otherwise marked "
            "unstable" + ("" if latency_measured else " Not measured in these runs."),
        ),
        Item(
            "Peak memory",
            "CPU: the step runs under torch.profiler with profile_memory=True; the figure is the peak of the running "
            "total of PyTorch's CPU allocator's own allocation and free events in time order (memory allocated, "
            "including scratch an op frees inside itself; oneDNN's scratchpads go through this allocator). "
            "CUDA: the allocator's max_memory_allocated above what was allocated before. "
            "Both exclude what existed before the step (weights, AdamW state, the input). "
            "Inference is one example (batch 1); training is one steady-state step (forward, backward, AdamW) at the "
            "training batch size." + ("" if memory_measured else " Not measured in these runs."),
        ),
    ]
    for data in _distinct_datasets(runs):
        items.append(
            Item(
                f"Data set: {data.get('name')}",
                f"{data.get('citation') or data.get('name')}. Licence: {data.get('license') or 'not recorded'}. "
                f"Protocol {data.get('protocol')}; content digest {str(data.get('digest') or 'not recorded')[:16]}….",
            )
        )
    return items


def _distinct_datasets(runs: list[RunInfo]) -> list[dict]:
    seen: dict[tuple, dict] = {}
    for run in runs:
        data = run.manifest.get("dataset") or {}
        if data:
            seen.setdefault((data.get("name"), data.get("version"), data.get("protocol")), data)
    return list(seen.values())


def families_table(names: list[str]) -> Table:
    """What each family in the report is, and where it comes from (the model registry's own text)."""
    from suite.models import get_family, list_models

    known = set(list_models())
    rows = []
    for name in names:
        family = get_family(name) if name in known else None
        summary = family.summary if family else "not in this version's registry"
        rows.append([Cell(name), Cell(summary), Cell(family.reference if family else "")])
    return Table(["family", "what it is", "reference"], rows, "The model families, as registered in suite/models/.")
