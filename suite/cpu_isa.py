"""The instruction set a CPU trial trained with: with the seed and the thread count, what makes it repeatable.

Floating-point training on a CPU repeats bit for bit for a given seed and thread count
only on the same kernels, and PyTorch picks its kernels by the CPU's instruction set:
ATen's vectorised kernels (``torch.backends.cpu.get_cpu_capability()``: ``AVX2``,
``AVX512``, ...), oneDNN's convolutions and MKL's matrix products each dispatch on it.
Measured (fsdd-100k, seed 0, 2 threads): trials trained on an AVX2-only AMD EPYC gave
other test predictions on an AVX-512 one for 6 of 7 families (first-epoch losses differ
in the fifth digit), and the same predictions there, for cnn2d and mlp, with the three
libraries capped at AVX2 (:data:`CAPS`); for mlp ATen's cap alone was
enough. Capping at a lower level is what was measured; a cap at ``AVX512`` is the
libraries' documented spelling, not measured here.

A trial's record keeps its ``cpu_capability``; ``suite reference check`` re-runs a
trial from another instruction set in a new process with these caps (the libraries read
them once, when they start).
"""

from __future__ import annotations

#: The environment variables that cap each library at a level, by ATen's name of the level.
CAPS: dict[str, dict[str, str]] = {
    "AVX2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "AVX512": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "MKL_ENABLE_INSTRUCTIONS": "AVX512"},
}
#: Levels from lowest to highest: a machine can use the kernels of its own level or a lower one.
ORDER = ("DEFAULT", "AVX2", "AVX512")


def cpu_capability() -> str:
    """ATen's kernel level in this process (``AVX2``, ``AVX512``; lowered by ``$ATEN_CPU_CAPABILITY``)."""
    import torch  # here, not at the top: reading records must not import torch

    return str(torch.backends.cpu.get_cpu_capability())


def environment_for(level: str, here: str) -> dict[str, str] | None:
    """The variables under which a new process on a machine of level ``here`` uses level ``level``'s kernels.

    ``{}`` when the levels are the same; the caps of :data:`CAPS` when ``level`` is a
    lower one with known caps; ``None`` when this machine cannot (a higher or unknown level).
    """
    if level == here:
        return {}
    if level in CAPS and here in ORDER and ORDER.index(level) < ORDER.index(here):
        return dict(CAPS[level])
    return None
