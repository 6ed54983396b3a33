"""The accuracy judge (suite.gate.accuracy): its false-alarm rate and power, simulated, and its rules.

The simulations are seeded and run the public judge once per simulated comparison. The
model of seed noise: a test set of 300 examples (FSDD's test split), each with a
difficulty (the probability that a seed gets it right), drawn at the quantiles of a Beta
distribution whose spread is calibrated so that independent seeds' accuracies have a
standard deviation of 1.5 pt. In the *global-shift* variant, part of that variance
instead comes from a per-seed shift of every example's logit (a seed that trains a
better or worse model overall), which per-example predictions cannot tell from a real
change. ``python -m tests.test_judge_accuracy`` prints every scenario's rates.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.optimize import brentq
from scipy.special import expit, logit
from torch import nn

from suite.gate.accuracy import SeedResults, judge_accuracy
from suite.gate.paired import exact_stratified_tails
from suite.results.load import load_results
from suite.train import TrainingConfig, TrialData, train_model

N_EXAMPLES = 300  # FSDD's test split
SIGMA = 0.015  # seed-to-seed standard deviation of accuracy
MIN_POINTS = 0.5  # the default --fail-on accuracy=0.5pt
TARGETS = np.zeros(N_EXAMPLES, dtype=np.int64)
_QUANTILES = (np.arange(N_EXAMPLES) + 0.5) / N_EXAMPLES
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(40)  # expectations over a standard normal shift
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


@dataclass(frozen=True, eq=False)
class SeedNoise:
    """How one model's seeds vary.

    Attributes:
        difficulty (np.ndarray): ``(examples,)`` probability that a seed gets each example right (without a shift).
        shift (float): Standard deviation of a per-seed shift added to every example's logit.
    """

    difficulty: np.ndarray
    shift: float = 0.0


def _variance_parts(difficulty: np.ndarray, shift: float) -> tuple[float, float]:
    """Per-seed accuracy variance from examples flipping, and from the global shift (exact expectations)."""
    p = expit(logit(difficulty)[None, :] + shift * _NODES[:, None])
    flips = float(_WEIGHTS @ (p * (1 - p)).sum(axis=1)) / N_EXAMPLES**2
    means = p.mean(axis=1)
    return flips, float(_WEIGHTS @ (means - _WEIGHTS @ means) ** 2)


def seed_noise(mean: float, sigma: float = SIGMA, shift_share: float = 0.0) -> SeedNoise:
    """Difficulties at Beta quantiles (mean ``mean``), calibrated so seeds' accuracy std is ``sigma``.

    Args:
        mean (float): Mean difficulty (about the expected accuracy).
        sigma (float): Seed-to-seed standard deviation of accuracy. (Default: 0.015)
        shift_share (float): Share of that variance that comes from a global per-seed logit shift. (Default: 0)
    """

    def difficulty(concentration: float) -> np.ndarray:
        with np.errstate(all="ignore"):
            return stats.beta.ppf(_QUANTILES, mean * concentration, (1 - mean) * concentration)

    def concentration_for(shift: float) -> float:
        return brentq(lambda c: _variance_parts(difficulty(c), shift)[0] - (1 - shift_share) * sigma**2, 0.02, 1e5)

    if shift_share == 0:
        return SeedNoise(difficulty(concentration_for(0.0)))
    shift = brentq(lambda s: _variance_parts(difficulty(concentration_for(s)), s)[1] - shift_share * sigma**2, 1e-4, 5.0)
    return SeedNoise(difficulty(concentration_for(shift)), shift)


def draw(noise: SeedNoise, seeds: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """``(reps, seeds, examples)`` bool: which examples each simulated seed gets right."""
    shifts = noise.shift * rng.standard_normal((reps, seeds, 1))
    with np.errstate(divide="ignore"):
        p = expit(logit(noise.difficulty) + shifts)
    return rng.random((reps, seeds, N_EXAMPLES)) < p


def verdict_rates(
    base: SeedNoise, new: SeedNoise, k_base: int, k_new: int, reps: int, seed: int, predictions: bool = True
) -> dict[str, float]:
    """Share of ``reps`` simulated comparisons judged regressed / improved / unchanged."""
    rng = np.random.default_rng([seed, k_base, k_new])
    base_correct, new_correct = draw(base, k_base, reps, rng), draw(new, k_new, reps, rng)
    counts = {"regressed": 0, "improved": 0, "unchanged": 0}
    for b, n in zip(base_correct, new_correct, strict=True):
        sides = [SeedResults(tuple(c.mean(axis=1).tolist()), *((c, TARGETS) if predictions else ())) for c in (b, n)]
        counts[judge_accuracy(*sides, MIN_POINTS).verdict] += 1
    return {verdict: count / reps for verdict, count in counts.items()}


PER_EXAMPLE = seed_noise(0.90)
HALF_GLOBAL = seed_noise(0.90, shift_share=0.5)
DROPPED = seed_noise(0.85)  # 5 pt lower, same spread; example i stays the i-th hardest
GLOBAL_MOSTLY = SeedNoise(seed_noise(0.80, sigma=0.02).difficulty, shift=0.4)  # like ci.yaml's mlp: 2.0 pt flips, 4.8 global


def test_simulated_seeds_have_the_stated_spread() -> None:
    rng = np.random.default_rng(7)
    for noise, mean in ((PER_EXAMPLE, 0.90), (HALF_GLOBAL, 0.90), (DROPPED, 0.85)):
        accuracies = draw(noise, 4000, 1, rng)[0].mean(axis=1)
        assert abs(accuracies.mean() - mean) < 0.003
        assert 0.0140 < accuracies.std() < 0.0160
    flips, shift = _variance_parts(HALF_GLOBAL.difficulty, HALF_GLOBAL.shift)
    assert math.isclose(flips, shift, rel_tol=1e-6) and math.isclose(math.sqrt(flips + shift), SIGMA, rel_tol=1e-6)


@pytest.mark.parametrize(("k_base", "k_new"), [(1, 1), (1, 3), (3, 1), (3, 3)])
def test_aa_false_regressed_rate_is_at_most_1_percent_with_predictions(k_base: int, k_new: int) -> None:
    rates = verdict_rates(PER_EXAMPLE, PER_EXAMPLE, k_base, k_new, reps=2000, seed=1)
    assert rates["regressed"] <= 0.01 and rates["improved"] <= 0.01, rates


@pytest.mark.parametrize(("k_base", "k_new"), [(1, 3), (3, 1), (3, 3)])
def test_aa_false_regressed_rate_is_at_most_1_percent_without_predictions(k_base: int, k_new: int) -> None:
    rates = verdict_rates(PER_EXAMPLE, PER_EXAMPLE, k_base, k_new, reps=5000, seed=2, predictions=False)
    assert rates["regressed"] <= 0.01 and rates["improved"] <= 0.01, rates


def test_a_5_point_drop_is_caught_at_least_90_percent_with_4_vs_4_seeds() -> None:
    """Measured 94 %. With 3 vs 3 seeds it is 82 % (next test): the issue's 90 % at 3 vs 3 is not met,
    and no judge held to 1 % false alarms at every global share could meet it (at most 69 %:
    ``benchmarks/bound_accuracy_judge.py``, tested in ``tests/test_bound_accuracy_judge.py``).

    The paired test alone catches 91 % at 3 vs 3, but only by assuming that seeds differ by
    examples flipping; the gate benchmark's seeds also differ globally (Cochran's Q p down
    to 1e-12), which made that test call 4 of 10 unchanged mlp runs regressed. The seed
    shift's variance, estimated from 2 + 2 seed degrees of freedom, must be paid for.
    """
    rates = verdict_rates(PER_EXAMPLE, DROPPED, 4, 4, reps=3000, seed=3)
    assert rates["regressed"] >= 0.90 and rates["improved"] == 0, rates


def test_a_5_point_drop_with_3_vs_3_seeds_is_caught_about_4_times_in_5() -> None:
    rates = verdict_rates(PER_EXAMPLE, DROPPED, 3, 3, reps=3000, seed=3)
    assert rates["regressed"] >= 0.78 and rates["improved"] == 0, rates


def test_a_model_whose_seeds_differ_mostly_globally_is_not_called_regressed() -> None:
    """An undertrained mlp's seeds (the gate benchmark's): 2 pt of flips and a 4.8 pt global shift, 3 vs 3 seeds.

    The paired test alone (with the seed-level check at p < 0.2) called 7.2 % of these
    regressed; with the seed shift in its variance it is 1.35 %, near the nominal 0.5 %
    (the Satterthwaite approximation's slack with 4 degrees of freedom).
    """
    rates = verdict_rates(GLOBAL_MOSTLY, GLOBAL_MOSTLY, 3, 3, reps=2000, seed=5)
    assert rates["regressed"] <= 0.02 and rates["improved"] <= 0.02, rates


@pytest.mark.parametrize(("k_base", "k_new"), [(1, 1), (1, 3), (3, 3)])
def test_global_per_seed_shifts_raise_false_alarms_but_boundedly(k_base: int, k_new: int) -> None:
    """Half the seed variance a global shift: the paired test cannot see it (the README states the measured rates)."""
    rates = verdict_rates(HALF_GLOBAL, HALF_GLOBAL, k_base, k_new, reps=1000, seed=4)
    assert rates["regressed"] <= 0.05, rates


def test_with_three_quarters_of_the_seed_variance_global_3_vs_3_false_alarms_stay_near_2_percent() -> None:
    """The judge's worst simulated share (``benchmarks/bound_accuracy_judge.py --simulate``: 1.95 % at 4,000).

    Above its nominal 0.5 %: the Welch-Satterthwaite t for a variance on 4 degrees of
    freedom is approximate. The bound shows what a tighter judge would cost: held to 1 % at
    every share, at most 69 % of 5 pt drops could be caught, against this judge's 82 %.
    """
    noise = seed_noise(0.90, shift_share=0.75)
    rates = verdict_rates(noise, noise, 3, 3, reps=2000, seed=6)
    assert rates["regressed"] <= 0.03 and rates["improved"] <= 0.03, rates


# Rules and texts.


def _side(*accuracies: float) -> SeedResults:
    return SeedResults(tuple(accuracies))


def _with_predictions(correct: np.ndarray, targets: np.ndarray | None = None) -> SeedResults:
    correct = np.atleast_2d(correct)
    return SeedResults(tuple(correct.mean(axis=1).tolist()), correct, TARGETS[: correct.shape[1]] if targets is None else targets)


def test_mcnemar_for_one_seed_per_side_matches_the_binomial_test_on_discordant_examples() -> None:
    rng = np.random.default_rng(11)
    base, new = rng.random(300) < PER_EXAMPLE.difficulty, rng.random(300) < PER_EXAMPLE.difficulty - 0.03
    only_new, only_base = int((new & ~base).sum()), int((base & ~new).sum())
    judged = judge_accuracy(_with_predictions(base), _with_predictions(new), MIN_POINTS)
    p = stats.binomtest(only_new, only_new + only_base, 0.5).pvalue
    assert f"McNemar exact p={p:.2g}" in judged.detail and "1 vs 1 seeds" in judged.detail
    lower, upper = exact_stratified_tails(base[None], new[None])
    assert math.isclose(lower, stats.binomtest(only_new, only_new + only_base, 0.5, alternative="less").pvalue)
    assert math.isclose(upper, stats.binomtest(only_new, only_new + only_base, 0.5, alternative="greater").pvalue)


def test_paired_test_tails_match_a_full_enumeration() -> None:
    """2 vs 1 seeds on 5 examples: every relabelling of seeds within each example, counted by brute force."""
    base = np.array([[1, 1, 0, 1, 0], [1, 0, 1, 1, 0]], bool)
    new = np.array([[0, 1, 0, 0, 1]], bool)
    outcomes = np.concatenate([base, new])  # (3 seeds, 5 examples)
    sums = np.zeros(1, int)
    for column in outcomes.T:  # NEW's outcome is any one of the 3 (equally likely)
        sums = (sums[:, None] + column[None, :].astype(int)).ravel()
    observed = int(new.sum())
    lower, upper = exact_stratified_tails(base, new)
    assert math.isclose(lower, (sums <= observed).mean()) and math.isclose(upper, (sums >= observed).mean())


def test_a_one_seed_side_borrows_the_other_sides_spread() -> None:
    tight = judge_accuracy(_side(0.90), _side(0.872, 0.870, 0.868), MIN_POINTS)
    assert tight.verdict == "regressed"
    assert "borrowed spread (base's 1 seed takes new's seed std 0.20 pt): t p=" in tight.detail and "df=2" in tight.detail
    loose = judge_accuracy(_side(0.90), _side(0.84, 0.87, 0.90), MIN_POINTS)
    assert loose.verdict == "unchanged" and "std 3.00 pt" in loose.detail
    mirrored = judge_accuracy(_side(0.872, 0.870, 0.868), _side(0.90), MIN_POINTS)
    assert mirrored.verdict == "improved" and "new's 1 seed takes base's seed std 0.20 pt" in mirrored.detail


def test_without_predictions_welch_t_judges_several_seeds_per_side() -> None:
    judged = judge_accuracy(_side(0.90, 0.91, 0.89), _side(0.86, 0.85, 0.87), MIN_POINTS)
    assert judged.verdict == "regressed" and "Welch t p=" in judged.detail and "df=4.0" in judged.detail
    assert "no per-example predictions" in judged.detail


def test_one_seed_per_side_without_predictions_applies_the_min_points_bar_only() -> None:
    judged = judge_accuracy(_side(0.900), _side(0.894), MIN_POINTS)
    assert judged.verdict == "regressed" and math.isclose(judged.change, -0.6)
    assert "seed noise unknown" in judged.detail and "min-points bar only" in judged.detail
    assert judge_accuracy(_side(0.900), _side(0.896), MIN_POINTS).verdict == "unchanged"


def test_predictions_of_different_test_sets_are_not_used() -> None:
    rng = np.random.default_rng(12)
    base = rng.random((3, 300)) < PER_EXAMPLE.difficulty
    new = rng.random((3, 300)) < PER_EXAMPLE.difficulty
    other_targets = TARGETS.copy()
    other_targets[:10] = 1
    judged = judge_accuracy(_with_predictions(base), _with_predictions(new, other_targets), MIN_POINTS)
    assert "paired" not in judged.detail and "Welch t" in judged.detail and "different test sets" in judged.detail
    single = judge_accuracy(_with_predictions(base[0]), _with_predictions(new[0], other_targets), MIN_POINTS)
    assert "McNemar" not in single.detail and "seed noise unknown" in single.detail


@pytest.mark.parametrize(("k_base", "k_new"), [(1, 1), (1, 3), (3, 3)])
@pytest.mark.parametrize("predictions", [True, False])
def test_verdicts_are_symmetric(k_base: int, k_new: int, predictions: bool) -> None:
    rng = np.random.default_rng([13, k_base, k_new])
    for _ in range(20):
        a = draw(PER_EXAMPLE, k_base, 1, rng)[0]
        b = draw(DROPPED, k_new, 1, rng)[0]
        sides = [_with_predictions(c) if predictions else _side(*c.mean(axis=1)) for c in (a, b)]
        forward, backward = judge_accuracy(*sides, MIN_POINTS), judge_accuracy(*sides[::-1], MIN_POINTS)
        flipped = {"regressed": "improved", "improved": "regressed", "unchanged": "unchanged"}
        assert backward.verdict == flipped[forward.verdict] and math.isclose(backward.change, -forward.change, abs_tol=1e-9)
        assert re.findall(r"p[=<]\S+", forward.detail) == re.findall(r"p[=<]\S+", backward.detail)


def test_a_significant_change_below_min_points_is_unchanged() -> None:
    judged = judge_accuracy(_side(0.900, 0.9001, 0.8999), _side(0.897, 0.8971, 0.8969), MIN_POINTS)
    assert "Welch t p=" in judged.detail and judged.verdict == "unchanged"
    assert judge_accuracy(_side(0.900, 0.9001, 0.8999), _side(0.897, 0.8971, 0.8969), 0.2).verdict == "regressed"


def test_a_diverged_seed_is_held_back_by_the_seed_level_check() -> None:
    """An A/A pair where one NEW seed collapsed: the paired test alone would cry regression, Welch's t does not agree."""
    rng = np.random.default_rng(14)
    base, new = draw(PER_EXAMPLE, 3, 1, rng)[0], draw(PER_EXAMPLE, 3, 1, rng)[0]
    new[2, :120] = False  # one seed lost 40 % of the test set
    judged = judge_accuracy(_with_predictions(base), _with_predictions(new), MIN_POINTS)
    assert "paired test with seed shift" in judged.detail and "Welch t" in judged.detail
    assert judged.verdict == "unchanged" and judged.change < -5


def test_from_trials_keeps_predictions_only_when_they_are_complete_and_consistent() -> None:
    targets = [0, 1, 2, 1]
    good = SeedResults.from_trials([0.75, 1.0], [[0, 1, 2, 2], [0, 1, 2, 1]], [targets, targets])
    assert good.correct is not None and good.correct.shape == (2, 4) and good.note == ""
    missing = SeedResults.from_trials([0.75, 1.0], [[0, 1, 2, 2], float("nan")], [targets, float("nan")])
    assert missing.correct is None and missing.note == "no per-example predictions for 1 of 2 seeds"
    shuffled = SeedResults.from_trials([0.75, 0.5], [[0, 1, 2, 2], [0, 1, 2, 1]], [targets, [1, 0, 2, 1]])
    assert shuffled.correct is None and "targets differ between seeds" in shuffled.note
    not_accuracy = SeedResults.from_trials([0.7], [[0, 1, 2, 2]], [targets])  # e.g. macro-F1 values
    assert not_accuracy.correct is None and "do not reproduce" in not_accuracy.note
    assert SeedResults.from_trials([0.75]).note == "no per-example predictions"


def test_an_empty_side_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one finite accuracy"):
        judge_accuracy(_side(), _side(0.9), MIN_POINTS)


# Where the predictions come from: train_model keeps them, trials.jsonl and the loader carry them.


def test_train_model_keeps_the_per_example_test_predictions(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(0)
    splits = {"train": 32, "validation": 8, "test": 12}
    inputs = {split: torch.randn(n, 16, generator=generator) for split, n in splits.items()}
    targets = {split: torch.randint(0, 3, (n,), generator=generator) for split, n in splits.items()}
    data = TrialData(inputs, targets, n_classes=3, steps_per_second=8000.0, is_spectrogram=False)
    config = TrainingConfig(epochs=1, batch_size=8, time_shift_ms=0)
    result = train_model(nn.Linear(16, 3), data, config, seed=0, device=torch.device("cpu"), progress=False)
    assert result.test_targets == targets["test"].tolist() and len(result.test_predictions) == 12
    assert all(type(p) is int for p in result.test_predictions)
    assert math.isclose(result.accuracy, float(np.mean(np.array(result.test_predictions) == targets["test"].numpy())))
    record = {"trial_id": "t0", "model": "linear", "seed": 0, "status": "ok", "error": ""} | dataclasses.asdict(result)
    run = tmp_path / "run"
    run.mkdir()
    (run / "trials.jsonl").write_text(json.dumps(record) + "\n")
    trials = load_results([run]).trials
    assert trials.loc[0, "test_predictions"] == result.test_predictions and trials.loc[0, "test_targets"] == result.test_targets
    side = SeedResults.from_trials(trials["accuracy"], trials["test_predictions"], trials["test_targets"])
    assert side.correct is not None and side.correct.shape == (1, 12)


def _logit_drop(noise: SeedNoise, points: float) -> SeedNoise:
    """``noise`` with every example's logit lowered by one amount, so the mean accuracy drops by ``points``."""
    logits = logit(noise.difficulty)
    lowered = brentq(lambda d: expit(logits - d).mean() - (noise.difficulty.mean() - points / 100), 0, 5)
    return SeedNoise(expit(logits - lowered))


def _print_rates() -> None:
    """Every simulated scenario's verdict rates (for the README)."""
    logit_drop = _logit_drop(PER_EXAMPLE, 5)
    quarter = seed_noise(0.90, shift_share=0.25)
    three_quarters = seed_noise(0.90, shift_share=0.75)
    scenarios = [
        ("A/A, seeds differ by examples flipping", PER_EXAMPLE, PER_EXAMPLE, True, 2000),
        ("A/A, same, no per-example predictions", PER_EXAMPLE, PER_EXAMPLE, False, 2000),
        ("A/A, 1/4 of the seed variance a global shift", quarter, quarter, True, 2000),
        ("A/A, 1/2 of the seed variance a global shift", HALF_GLOBAL, HALF_GLOBAL, True, 2000),
        ("A/A, 1/2 global shift, no predictions", HALF_GLOBAL, HALF_GLOBAL, False, 2000),
        ("A/A, 3/4 of the seed variance a global shift", three_quarters, three_quarters, True, 2000),
        ("-5 pt, same spread on both sides", PER_EXAMPLE, DROPPED, True, 10000),
        ("-5 pt, same, no per-example predictions", PER_EXAMPLE, DROPPED, False, 3000),
        ("-5 pt, every logit lowered (new std larger)", PER_EXAMPLE, logit_drop, True, 3000),
    ]
    new_std = math.sqrt((logit_drop.difficulty * (1 - logit_drop.difficulty)).sum()) / N_EXAMPLES
    print(f"new side's seed std when every logit is lowered: {new_std * 100:.2f} pt")
    for name, base, new, predictions, reps in scenarios:
        for k_base, k_new in [(1, 1), (1, 3), (3, 1), (3, 3), (5, 5)]:
            rates = verdict_rates(base, new, k_base, k_new, reps, seed=100, predictions=predictions)
            regressed, improved = rates["regressed"], rates["improved"]
            print(f"{name:46s} {k_base} vs {k_new}: regressed {regressed:6.2%}  improved {improved:6.2%}  ({reps} reps)")


if __name__ == "__main__":
    _print_rates()


def test_one_new_seed_far_below_a_three_seed_baseline_is_not_called_a_regression_on_the_paired_test_alone() -> None:
    """The gate benchmark's A/A case: an undertrained mlp's seed 15 scored 13.6 pt below seeds 0-2 (spread 4 pt).

    With one seed on NEW the paired test cannot see that this seed trained a worse model
    overall, so the borrowed-spread t test must reach alpha itself (p=0.1 there).
    """
    rng = np.random.default_rng(15)
    base = np.stack([rng.random(300) < accuracy for accuracy in (0.747, 0.823, 0.797)])
    new = (rng.random(300) < 0.657)[None]
    judged = judge_accuracy(_with_predictions(base), _with_predictions(new), MIN_POINTS)
    assert judged.change < -10 and "borrowed spread" in judged.detail and "seed-level check at p<0.01" in judged.detail
    assert judged.verdict == "unchanged"
