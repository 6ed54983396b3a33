"""Where and with what a result was measured: versions, git commit, machine.

In the manner of lm-evaluation-harness, every results folder carries this, so a number
can always be traced to the code and the hardware that produced it. :func:`machine_label`
is the one name a machine goes by (in a trial record, and for a manifest in
:mod:`suite.results.load`), so reports and ``suite compare`` tell machines apart the same
way whichever executor measured on them.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from suite import __version__
from suite.cpu_isa import cpu_capability

LIBRARIES = ("torch", "fvcore", "numpy", "pandas", "librosa", "soundfile", "soxr", "scikit-learn", "pydantic")


def git_commit(start: Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout holding the package.

    Dirty: a tracked file changed anywhere but under ``results/`` and ``reports/`` (the
    suite's own output), or an untracked file inside ``start`` (the package). Untracked
    files elsewhere are not code: a run's own results folder, written into the checkout,
    made every resumption of a reference run say "with uncommitted changes" (measured on
    esc10-100k's first sitting); once that folder was committed, its changed tracked files
    did the same to the next sitting resumed from that checkout (esc10-100k, 08:47 UTC).
    """
    folder = start or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10)
        outputs = [":(top)", ":(top,exclude)results", ":(top,exclude)reports"]  # the suite's own output is not code
        tracked = ["git", "status", "--porcelain", "--untracked-files=no", "--", *outputs]
        status = subprocess.run(tracked, cwd=folder, capture_output=True, text=True, timeout=10)
        new = ["git", "status", "--porcelain", "--untracked-files=all", "--", "."]  # "." is the package folder
        untracked = subprocess.run(new, cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip() or untracked.stdout.strip())}


def _first_processor() -> dict[str, str]:
    """The fields of the first processor in /proc/cpuinfo (``{}`` where there is none): one CPU speaks for all."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    return _first_processor().get("model name") or platform.processor() or platform.machine()


def cpu_id() -> str | None:
    """``"AuthenticAMD family 25 model 17 stepping 1"`` from /proc/cpuinfo; ``None`` where it has none.

    Virtual machines often show a generic model name ("AMD EPYC") for different CPU
    generations; these numbers still tell them apart (an AVX2-only EPYC and an AVX-512 one
    both called themselves "AMD EPYC" here).
    """
    fields = _first_processor()
    if "cpu family" not in fields:
        return None
    vendor, model, stepping = (fields.get(key, "?") for key in ("vendor_id", "model", "stepping"))
    return f"{vendor} family {fields['cpu family']} model {model} stepping {stepping}"


def cpu_generation(identity: str | None) -> str | None:
    """``"family 25 model 17"`` of a :func:`cpu_id`: what separates CPU generations (the stepping, a revision, does not)."""
    words = (identity or "").split()
    if "family" not in words or "model" not in words:
        return None
    family, model = words[words.index("family") + 1 :][:1], words[words.index("model") + 1 :][:1]
    return f"family {family[0]} model {model[0]}" if family and model else None


def identified(label: str, identity: str | None, capability: str | None) -> str:
    """``label`` with the CPU generation and kernel level that tell machines of one name apart.

    ``"AMD EPYC, 2 CPUs"`` becomes ``"AMD EPYC, 2 CPUs (family 25 model 17, AVX512)"``:
    an AVX2-only EPYC and an AVX-512 one both name themselves "AMD EPYC" and run batch-1
    convolutions 1.5 to 3 times apart, so a label without these would pool their latency.
    The kernel level (:mod:`suite.cpu_isa`) is part of it because a process can be held
    below its CPU's level (``suite reference check`` does so), which is another machine
    as far as timings go. Either part is left out when unknown.
    """
    parts = [part for part in (cpu_generation(identity), capability) if part]
    return f"{label} ({', '.join(parts)})" if parts else label


def machine_label(
    cpu: str | None,
    cpu_count: int | None,
    gpu: str | None = None,
    *,
    identity: str | None = None,
    capability: str | None = None,
) -> str:
    """``"AMD EPYC, 2 CPUs (family 25 model 17, AVX512)"``: how machines are told apart.

    Args:
        cpu (str, optional): CPU model name (:func:`cpu_model`).
        cpu_count (int, optional): Logical CPUs of the machine (``os.cpu_count()``).
        gpu (str, optional): GPU name, given only when the trial ran on it (``", NVIDIA H100"``
            follows the CPU count). (Default: ``None``)
        identity (str, optional): The CPU's :func:`cpu_id`. (Default: ``None``)
        capability (str, optional): The kernel level (:func:`suite.cpu_isa.cpu_capability`). (Default: ``None``)
    """
    label = f"{cpu or 'unknown CPU'}, {cpu_count or '?'} CPUs"
    return identified(f"{label}, {gpu}" if gpu else label, identity, capability)


def this_machine(device: str) -> str:
    """:func:`machine_label` of the machine this process runs on; ``device`` (``cpu``, ``cuda``, ``cuda:0``) adds the GPU."""
    import torch  # here, not at the top: the report reads labels without importing torch

    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") and torch.cuda.is_available() else None
    return machine_label(cpu_model(), os.cpu_count(), gpu, identity=cpu_id(), capability=cpu_capability())


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Suite and library versions, git commit, Python, CPU, GPU and thread count."""
    import torch  # see this_machine

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "suite_version": __version__,
        "git": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "cpu": cpu_model(),
        "cpu_id": cpu_id(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": cpu_capability(),  # the instruction set of the kernels (suite.cpu_isa)
        "gpu": gpu,
        "cuda": torch.version.cuda if gpu else None,
    }
