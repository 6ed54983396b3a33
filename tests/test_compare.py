"""`suite compare`: A/A gives no regression, injected regressions are caught, machines are told apart."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt
from sklearn.metrics import f1_score

from suite.cli import main
from suite.errors import SuiteError
from suite.gate.accuracy import SeedResults, judge_moments
from suite.gate.compare import compare_paths
from suite.gate.latency import RunSpread, Sessions, judge_latency, smallest_p
from suite.gate.macro_f1 import judge_macro_f1, macro_f1_rows, randomisation_p
from suite.gate.render import render_comparison
from suite.gate.stats import Judgement, judge_exact, judge_relative
from suite.gate.thresholds import DEFAULT_FAIL_ON, FailOn, parse_fail_on
from suite.reporting.summary import summarise
from suite.results.load import load_results
from tests.compare_fixtures import edit_trials, jitter_times, relabel_machine, set_field, slow_down
from tests.report_fixtures import build_run

MODELS = ("mlp", "cnn1d", "crnn", "attention")


def run(tmp_path: Path, name: str, **options: object) -> Path:
    return build_run(tmp_path / name, models=MODELS, seeds=[0, 1, 2], **options)  # type: ignore[arg-type]


def verdicts(comparison: object, metric_prefix: str) -> dict[str, str]:
    return {r["model"]: r["verdict"] for r in comparison.rows if r["metric"].startswith(metric_prefix)}  # type: ignore[attr-defined]


# --- thresholds ---------------------------------------------------------------------------


def test_fail_on_defaults_and_a_full_spec() -> None:
    assert parse_fail_on(None) == DEFAULT_FAIL_ON == parse_fail_on("")
    spec = parse_fail_on("latency=15%, accuracy=1pt, memory=off, params=any, macs=off")
    assert spec == FailOn(latency=0.15, accuracy=1.0, memory=None, params="any", macs="off")
    assert parse_fail_on(spec.describe()) == spec


@pytest.mark.parametrize(
    "spec, message",
    [
        ("latency", "not metric=threshold"),
        ("latency=10", "expected a percentage"),
        ("accuracy=0.5%", "expected percentage points"),
        ("params=some", "expected any, tolerance or off"),
        ("speed=10%", "unknown metric 'speed'"),
    ],
)
def test_a_malformed_fail_on_names_the_item(spec: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_fail_on(spec)


# --- judges -------------------------------------------------------------------------------


def times(median: float, n: int, seed: int, spread: float = 0.05) -> list[float]:
    rng = random.Random(seed)
    return [median * rng.uniform(1 - spread, 1 + spread) for _ in range(n)]


def one(median: float, n: int, seed: int, spread: float = 0.05) -> Sessions:
    return Sessions.of([times(median, n, seed, spread)])


def test_latency_of_one_run_a_side_needs_significance_and_effect_size() -> None:
    base = one(1.0, 40, 0)
    assert judge_latency(base, one(1.0, 40, 1), 1.0, 1.0, 0.10).verdict == "unchanged"
    assert judge_latency(base, one(1.2, 40, 1), 1.0, 1.2, 0.10).verdict == "regressed"
    assert judge_latency(base, one(0.8, 40, 1), 1.0, 0.8, 0.10).verdict == "improved"
    # Significant but smaller than the threshold: noise as far as the gate is concerned.
    small = judge_latency(base, one(1.04, 40, 1, spread=0.01), 1.0, 1.04, 0.10)
    assert small.verdict == "unchanged" and "Mann-Whitney on blocks p=" in small.detail
    # Large but not significant: two wildly spread samples.
    wild = judge_latency(Sessions.of([[1, 5, 1, 5, 1, 5]]), Sessions.of([[5, 1, 5, 1, 5, 1.5]]), 3.0, 3.5, 0.10)
    assert wild.verdict == "unchanged"


def test_blocks_whose_ranks_and_medians_disagree_are_not_significant() -> None:
    # NEW's level (the geometric mean of its sessions' medians, 3.0 and 0.5) is 22 % above BASE's,
    # but 25 of its 30 blocks are faster than all of BASE's: the rank test's tiny p says "faster".
    rng = np.random.default_rng(5)
    base = Sessions.of([rng.normal(1.0, 0.01, 30)])
    new = Sessions.of([rng.normal(3.0, 0.01, 5), rng.normal(0.5, 0.01, 25)])
    judged = judge_latency(base, new, base.level(), new.level(), 0.10)
    assert judged.change == pytest.approx(0.22, abs=0.01)
    assert judged.verdict == "unchanged" and "ranks point the other way" in judged.detail


def test_too_few_blocks_to_reach_alpha_fall_back_to_the_threshold_and_say_so() -> None:
    # 4 vs 4 blocks: the exact test's smallest two-sided p is 2/70 = 0.029 > 0.01.
    assert smallest_p(4, 4) == pytest.approx(2 / 70)
    judged = judge_latency(Sessions.of([[1.0] * 4]), Sessions.of([[1.3] * 4]), 1.0, 1.3, 0.10)
    assert judged.verdict == "regressed" and "cannot reach p<0.01: threshold only" in judged.detail


def test_several_runs_make_the_run_the_unit_with_the_pooled_run_spread() -> None:
    rng = np.random.default_rng(0)
    # Blocks within a run are tight (1 %), runs drift by 5 %: pooling blocks would call every drift significant.
    base = Sessions.of([rng.normal(level, 0.01 * level, 30) for level in (1.0, 1.05, 0.96)])
    drifted = Sessions.of([rng.normal(1.08, 0.01, 30)])  # +8 %: one run's drift, not a regression
    # The spread is pooled over the comparison's settings (five models here): the drift is the machine's.
    others = [Sessions.of([rng.normal(level, 0.01, 30) for level in rng.lognormal(0, 0.05, 3)]) for _ in range(4)]
    spread = RunSpread.pooled([base, *others])
    assert spread.df == 10
    judged = judge_latency(base, drifted, 1.0, 1.08, 0.05, spread)
    assert judged.verdict == "unchanged" and "t over runs" in judged.detail and "3 vs 1 runs" in judged.detail
    # Blocks alone would have called the same drift a regression.
    assert judge_latency(Sessions.of([np.concatenate(base.blocks)]), drifted, 1.0, 1.08, 0.05).verdict == "regressed"
    assert judge_latency(base, Sessions.of([rng.normal(1.5, 0.01, 30)]), 1.0, 1.5, 0.10, spread).verdict == "regressed"


def test_unstable_figures_are_left_out_and_never_regress_alone() -> None:
    base = Sessions.of([times(1.0, 30, 0)])
    disturbed = Sessions.of([times(2.0, 30, 1)], unstable=[True])
    judged = judge_latency(base, disturbed, 1.0, 2.0, 0.10)
    assert judged.verdict == "unstable" and "NEW measured only on a disturbed machine" in judged.detail
    # A stable session of the same setting is used, the disturbed one left out.
    mixed = Sessions.of([times(2.0, 30, 1), times(1.0, 30, 2)], unstable=[True, False])
    kept = judge_latency(base, mixed, 1.0, 1.0, 0.10)
    assert kept.verdict == "unchanged" and "1 unstable run(s) left out" in kept.detail


def test_latency_without_raw_times_says_it_used_the_threshold_only() -> None:
    judged = judge_latency(None, None, 1.0, 1.3, 0.10)
    assert judged.verdict == "regressed" and "threshold only" in judged.detail


def test_accuracy_from_moments_is_judged_against_the_seed_spread_and_a_minimum() -> None:
    # 1 point down, seeds spread 0.2 points: regressed (Welch's t).
    assert judge_moments((0.98, 0.002, 3), (0.97, 0.002, 3), 0.5).verdict == "regressed"
    # 1 point down, seeds spread 2 points: within noise.
    assert judge_moments((0.98, 0.02, 3), (0.97, 0.02, 3), 0.5).verdict == "unchanged"
    # Below the minimum, however tight the seeds.
    assert judge_moments((0.98, 0.0, 3), (0.978, 0.0, 3), 0.5).verdict == "unchanged"
    assert judge_moments((0.90, 0.002, 3), (0.93, 0.002, 3), 0.5).verdict == "improved"
    # One seed borrows the other side's spread; one seed a side says the noise is unknown.
    assert "borrowed spread" in judge_moments((0.98, 0.02, 3), (0.96, math.nan, 1), 0.5).detail
    assert "min-points bar only" in judge_moments((0.98, math.nan, 1), (0.96, math.nan, 1), 0.5).detail


def test_macro_f1_of_one_seed_a_side_uses_a_paired_randomisation_test() -> None:
    rng = np.random.default_rng(0)
    targets = np.arange(300) % 10
    base = np.where(rng.random(300) < 0.95, targets, (targets + 1) % 10)
    same = np.where(rng.random(300) < 0.95, targets, (targets + 1) % 10)  # another seed of the same model
    worse = np.where(rng.random(300) < 0.80, targets, (targets + 1) % 10)
    labels = np.arange(10)

    def side(predictions: np.ndarray) -> tuple[SeedResults, tuple[float, ...]]:
        f1 = float(macro_f1_rows(predictions[None], targets, labels)[0])
        return SeedResults.from_trials([float((predictions == targets).mean())], [predictions.tolist()], [targets.tolist()]), (
            f1,
        )

    (b, b_f1), (s, s_f1), (w, w_f1) = side(base), side(same), side(worse)
    judged = judge_macro_f1(b, w, b_f1, w_f1, 0.5)
    assert judged.verdict == "regressed" and "paired randomisation" in judged.detail
    assert judge_macro_f1(b, s, b_f1, s_f1, 0.5).verdict == "unchanged"
    assert randomisation_p(base, base, targets) == 1.0
    # The vectorised macro-F1 is the one trials record.
    assert b_f1[0] == pytest.approx(f1_score(targets, base, labels=np.union1d(targets, base), average="macro"))


def test_exact_counts_and_memory() -> None:
    assert judge_exact(100, 100, "any", False).verdict == "unchanged"
    assert judge_exact(100, 101, "any", False).verdict == "regressed"
    assert judge_exact(100, 101, "tolerance", False).verdict == "changed"
    assert judge_exact(100, 120, "tolerance", True).verdict == "regressed"
    assert judge_relative(10.0, 13.0, 0.2).verdict == "regressed"
    assert judge_relative(10.0, 10.5, 0.2).verdict == "unchanged"


# --- whole comparisons --------------------------------------------------------------------


def test_a_run_compared_with_a_noisy_rerun_of_itself_has_no_regression(tmp_path: Path) -> None:
    base = jitter_times(run(tmp_path, "a"), seed=1)
    new = jitter_times(run(tmp_path, "b"), seed=2)
    comparison = compare_paths(base, new, DEFAULT_FAIL_ON)
    assert comparison.exit_code == 0
    assert comparison.count("regressed") == comparison.count("improved") == comparison.count("missing") == 0
    assert comparison.basis == "rel" and "timed between the rounds" in comparison.basis_reason
    # Every model is judged on accuracy, macro-F1, params, MACs, two memories and 4 timed settings.
    assert len(comparison.rows) == len(MODELS) * (6 + 4)


def test_a_slower_model_is_regressed_and_only_that_one(tmp_path: Path) -> None:
    base = jitter_times(run(tmp_path, "a"), seed=1)
    new = slow_down(jitter_times(run(tmp_path, "b"), seed=2), 1.2, models={"crnn"})
    comparison = compare_paths(base, new, DEFAULT_FAIL_ON)
    latency = [r for r in comparison.rows if r["metric"].startswith("latency")]
    assert {r["verdict"] for r in latency if r["model"] == "crnn"} == {"regressed"}
    assert {r["verdict"] for r in latency if r["model"] != "crnn"} == {"unchanged"}
    assert all(f"Benjamini-Hochberg over {len(latency)} settings" in r["detail"] for r in latency if r["model"] == "crnn")
    assert comparison.exit_code == 1


def test_rows_carry_the_verdicts_adjusted_over_their_family_latency_judged_settings_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = jitter_times(run(tmp_path, "a"), seed=1)
    new = relabel_machine(jitter_times(run(tmp_path, "b"), seed=2), "Intel Xeon", models={"mlp"})
    seen: dict[str, tuple[int, str]] = {}

    def adjust(judgements: list[Judgement], better: str = "lower", noun: str = "settings") -> list[Judgement]:
        seen[noun] = (len(judgements), better)  # a stand-in that marks what it was given
        return [Judgement("regressed", j.change, f"adjusted {noun}", j.p) for j in judgements]

    monkeypatch.setattr("suite.gate.compare.control_false_alarms", adjust)
    rows = compare_paths(base, new, DEFAULT_FAIL_ON).rows
    latency = [r for r in rows if r["metric"].startswith("latency")]
    judged = [r for r in latency if r["model"] != "mlp"]
    # One family each: every judged latency setting (none timed on another machine), every quality row.
    quality = [r for r in rows if r["metric"] in ("accuracy", "macro_f1")]
    assert seen == {"settings": (len(judged), "lower"), "quality rows": (len(quality), "higher")}
    assert len(quality) == 2 * len(MODELS)
    assert {r["verdict"] for r in judged} == {"regressed"} and {r["detail"] for r in judged} == {"adjusted settings"}
    assert {r["detail"] for r in quality} == {"adjusted quality rows"}
    assert {r["verdict"] for r in latency if r["model"] == "mlp"} == {"not judged"}


def test_a_uniformly_slower_machine_is_no_regression_in_relative_latency(tmp_path: Path) -> None:
    base = jitter_times(run(tmp_path, "a"), seed=1)
    new = relabel_machine(slow_down(jitter_times(run(tmp_path, "b"), seed=2), 1.5, reference_factor=1.5), "Intel Xeon")
    comparison = compare_paths(base, new, DEFAULT_FAIL_ON, basis="rel")  # asked for: judged across machines
    assert comparison.basis == "rel" and "different machines" in comparison.basis_reason
    assert set(verdicts(comparison, "latency").values()) == {"unchanged"}
    assert comparison.exit_code == 0, render_comparison(comparison, "table")
    # The same data in milliseconds is a 50 % slowdown everywhere.
    in_ms = compare_paths(base, new, DEFAULT_FAIL_ON, basis="ms")
    assert set(verdicts(in_ms, "latency").values()) == {"regressed"}


def test_latency_of_sides_from_different_machines_is_shown_but_not_judged_unless_asked(tmp_path: Path) -> None:
    """A baseline from another CPU failed 10 of 10 unchanged runs (README): by default such latency never fails."""
    base = jitter_times(run(tmp_path, "a"), seed=1)
    slower = slow_down(jitter_times(run(tmp_path, "b"), seed=2), 1.3, models={"crnn"})
    new = set_field(relabel_machine(slower, "Intel Xeon"), "mlp", "accuracy", lambda a: a - 0.06)
    comparison = compare_paths(base, new, DEFAULT_FAIL_ON)
    latency = [r for r in comparison.rows if r["metric"].startswith("latency")]
    assert latency and {r["verdict"] for r in latency} == {"not judged"}
    crnn = next(r for r in latency if r["model"] == "crnn")
    assert crnn["change"] > 0.2 and "would be regressed" in crnn["detail"]
    assert "shown, not judged" in comparison.basis_reason and "Intel Xeon" in comparison.basis_reason
    assert any(note.startswith(f"{len(latency)} latency figure(s) timed on different machines") for note in comparison.notes)
    assert json.loads(render_comparison(comparison, "json"))["latency_not_judged"] == len(latency)
    # The rest is judged as on one machine: the accuracy drop still fails the gate.
    assert verdicts(comparison, "accuracy")["mlp"] == "regressed" and comparison.exit_code == 1
    markdown = render_comparison(comparison, "md")
    assert f"<summary>{len(latency)} latency figures not judged (timed on different machines)</summary>" in markdown
    assert f"{len(latency)} not judged (latency shown, not judged, as rel)" in markdown.splitlines()[0]
    # Asked for, the ratios are judged and crnn's slowdown is caught.
    judged = compare_paths(base, new, DEFAULT_FAIL_ON, basis="rel")
    assert verdicts(judged, "latency cpu b1")["crnn"] == "regressed"
    assert {r["verdict"] for r in judged.rows if r["model"] != "crnn" and r["metric"].startswith("latency")} == {"unchanged"}


def test_only_figures_timed_on_different_machines_are_withheld_and_they_never_fail_the_gate(tmp_path: Path) -> None:
    """Per figure, by the machines whose finished trials timed it (a Ray run times each trial on its worker)."""
    base = jitter_times(run(tmp_path, "a"), seed=1)
    new = slow_down(jitter_times(run(tmp_path, "b"), seed=2), 1.3, models={"crnn", "mlp"})
    comparison = compare_paths(base, relabel_machine(new, "Intel Xeon", models={"crnn"}), DEFAULT_FAIL_ON)
    latency = [r for r in comparison.rows if r["metric"].startswith("latency")]
    assert {r["verdict"] for r in latency if r["model"] == "crnn"} == {"not judged"}
    assert {r["verdict"] for r in latency if r["model"] == "mlp"} == {"regressed"}  # timed on BASE's machine: judged
    assert {r["verdict"] for r in latency if r["model"] not in ("crnn", "mlp")} == {"unchanged"}
    assert comparison.exit_code == 1
    # With every slowed figure timed elsewhere, nothing fails: withheld figures never fail the gate.
    only_crnn = slow_down(jitter_times(run(tmp_path, "c"), seed=3), 1.3, models={"crnn"})
    quiet = compare_paths(base, relabel_machine(only_crnn, "Intel Xeon", models={"crnn"}), DEFAULT_FAIL_ON)
    assert quiet.exit_code == 0 and quiet.count("not judged") > 0
    assert render_comparison(quiet, "table").startswith("no regression:")


def test_an_injected_accuracy_drop_and_a_parameter_change_are_reported(tmp_path: Path) -> None:
    base = run(tmp_path, "a")
    new = set_field(run(tmp_path, "b"), "mlp", "accuracy", lambda a: a - 0.06)
    new = set_field(new, "attention", "params", lambda p: p + 17)
    comparison = compare_paths(base, new, DEFAULT_FAIL_ON)
    assert verdicts(comparison, "accuracy") == {"mlp": "regressed"} | dict.fromkeys(MODELS[1:], "unchanged")
    mlp = next(r for r in comparison.rows if r["model"] == "mlp" and r["metric"] == "accuracy")
    assert f"Benjamini-Hochberg over {2 * len(MODELS)} quality rows" in mlp["detail"]
    # Half the drop is significant for mlp alone (Welch p 0.0095), not once all the quality rows are counted.
    marginal = compare_paths(base, set_field(run(tmp_path, "c"), "mlp", "accuracy", lambda a: a - 0.03), DEFAULT_FAIL_ON)
    held = next(r for r in marginal.rows if r["model"] == "mlp" and r["metric"] == "accuracy")
    assert held["verdict"] == "unchanged" and held["p"] < 0.01 and "not significant at 0.01 once all" in held["detail"]
    assert verdicts(comparison, "params")["attention"] == "changed"  # reported, within the budget tolerance
    strict = compare_paths(base, new, parse_fail_on("params=any"))
    assert verdicts(strict, "params")["attention"] == "regressed"
    out_of_tolerance = set_field(new, "attention", "budget_error", lambda e: 0.08)
    assert verdicts(compare_paths(base, out_of_tolerance, DEFAULT_FAIL_ON), "params")["attention"] == "regressed"


def test_missing_models_are_reported_and_nothing_in_common_is_an_error(tmp_path: Path) -> None:
    base = run(tmp_path, "a")
    fewer = build_run(tmp_path / "b", models=("mlp", "cnn1d"), seeds=[0])
    comparison = compare_paths(base, fewer, DEFAULT_FAIL_ON)
    # Models BASE measured and NEW lost fail the gate (tests/test_gate_semantics.py); missing=ignore only reports them.
    assert verdicts(comparison, "model") == {"crnn": "regressed", "attention": "regressed"}
    ignored = compare_paths(base, fewer, parse_fail_on("missing=ignore"))
    assert verdicts(ignored, "model") == {"crnn": "missing", "attention": "missing"}
    other = build_run(tmp_path / "c", models=("gru",), seeds=[0])
    with pytest.raises(SuiteError, match="no trial in common"):
        compare_paths(base, other, DEFAULT_FAIL_ON)


def test_a_summary_csv_compares_by_threshold_and_says_so(tmp_path: Path) -> None:
    base = run(tmp_path, "a")
    new = slow_down(run(tmp_path, "b"), 1.3, models={"mlp"})
    summary = tmp_path / "summary.csv"
    summarise(load_results([base])).to_csv(summary, index=False)
    comparison = compare_paths(summary, new, DEFAULT_FAIL_ON)
    assert any("threshold only" in note for note in comparison.notes)
    assert verdicts(comparison, "latency cpu b1")["mlp"] == "regressed"
    assert verdicts(comparison, "accuracy") == dict.fromkeys(MODELS, "unchanged")


# --- CLI ----------------------------------------------------------------------------------


def test_cli_exit_codes_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = jitter_times(run(tmp_path, "a"), seed=1)
    same = jitter_times(run(tmp_path, "b"), seed=2)
    slower = slow_down(jitter_times(run(tmp_path, "c"), seed=3), 1.25, models={"mlp"})
    assert main(["compare", str(base), str(same)]) == 0
    assert "no regression" in capsys.readouterr().out
    assert main(["compare", str(base), str(slower), "--format", "md"]) == 1
    markdown = capsys.readouterr().out
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    # Two tables: what changed, and the unchanged rows folded in a <details> block (GitHub renders both).
    assert sum(t.type == "table_open" for t in tokens) == 2
    assert sum(t.type == "th_open" for t in tokens) == 2 * 9
    assert markdown.index("❌ regressed") < markdown.index("<details>")
    assert "❌ regressed" in markdown and "REGRESSION" in markdown
    assert main(["compare", str(base), str(slower), "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["regressed"] is True


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "{tmp}/nowhere", "{base}"], "does not exist"),
        (["compare", "{base}", "{base}", "--fail-on", "latency=fast"], "expected a percentage"),
        (["compare", "{base}", "{other}"], "no trial in common"),
        (["compare", "{base}", "{tmp}/junk.csv"], "not a report's summary.csv"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    base = run(tmp_path, "a")
    other = build_run(tmp_path / "c", models=("gru",), seeds=[0])
    (tmp_path / "junk.csv").write_text("a,b\n1,2\n")
    filled = [a.format(tmp=tmp_path, base=base, other=other) for a in argv]
    assert main(filled) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_baseline_of_several_runs_pools_them_so_one_noisy_measurement_does_not_decide(tmp_path: Path) -> None:
    baselines = tmp_path / "baselines"
    for night in range(3):
        build_run(baselines, models=MODELS, seeds=[0, 1, 2], stamp=f"2026112{night}-020000")
    runs = sorted(baselines.iterdir())
    for seed, folder in enumerate(runs):
        jitter_times(folder, seed=seed)
    slow_down(runs[0], 1.4, models={"crnn"})  # a burst of host noise while crnn was timed, in one baseline run
    new = jitter_times(run(tmp_path, "new"), seed=9)
    alone = compare_paths(runs[0], new, DEFAULT_FAIL_ON)
    # Judged against the noisy run alone, crnn looks faster at every timed setting.
    assert {r["verdict"] for r in alone.rows if r["model"] == "crnn" and r["metric"].startswith("latency")} == {"improved"}
    pooled = compare_paths(baselines, new, DEFAULT_FAIL_ON)
    assert any("3 runs pooled" in note for note in pooled.notes)
    assert pooled.count("improved") == pooled.count("regressed") == 0
    assert verdicts(pooled, "accuracy") == dict.fromkeys(MODELS, "unchanged")
    n_seeds = {r["model"]: r["detail"] for r in pooled.rows if r["metric"] == "accuracy"}
    assert all("3 vs 3 seeds" in detail for detail in n_seeds.values())  # repeated seeds count once


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path: Path) -> None:
    # `suite compare A B --format json | head -c 1`: the pipe closes before the output is written.
    base = run(tmp_path, "a")
    slower = slow_down(run(tmp_path, "b"), 1.5)
    command = [sys.executable, "-m", "suite", "compare", str(base), str(slower), "--format", "json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first byte
    error = process.stderr.read().decode()
    assert process.wait(timeout=120) == 1  # the verdict's exit status survives
    assert "Traceback" not in error and "BrokenPipe" not in error


def test_results_without_interleaved_references_compare_in_ms_on_one_machine(tmp_path: Path) -> None:
    def older(record: dict) -> None:  # results written before the timer took rounds
        for timing in record.get("timings") or []:
            for key in ("block_rounds", "reference_rounds_ms"):
                timing.pop(key, None)

    base, new = (edit_trials(run(tmp_path, name), older) for name in ("a", "b"))
    comparison = compare_paths(base, new, DEFAULT_FAIL_ON)
    assert comparison.basis == "ms" and "same machine" in comparison.basis_reason
