"""make bench's regression guard: which figure changes fail the run and which are allowed."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import regression  # noqa: E402


def results(mode="full", calibration=30.0, **figures):
    rows = [{"bar": bar, "value": value, "unit": unit} for bar, (value, unit) in figures.items()]
    return {"meta": {"mode": mode, "calibration_ms": calibration, "git": "abc", "date": "d"}, "targets": rows}


def test_a_figure_more_than_15_percent_worse_fails_and_a_smaller_change_passes():
    before = results(cpu=(300.0, "µs"), rss=(58.0, "MB"))
    check = regression.compare(results(cpu=(350.0, "µs"), rss=(60.0, "MB")), before)
    assert check["compared"] and check["regressions"] == ["cpu"]
    assert regression.compare(results(cpu=(340.0, "µs"), rss=(60.0, "MB")), before)["regressions"] == []


def test_time_figures_are_scaled_by_the_machine_speed_but_memory_is_not():
    before = results(calibration=30.0, cpu=(300.0, "µs"), rss=(50.0, "MB"))
    slower_machine = results(calibration=36.0, cpu=(400.0, "µs"), rss=(60.0, "MB"))   # 20% slower
    assert regression.compare(slower_machine, before)["regressions"] == ["rss"]


def test_changes_below_the_noise_floor_of_their_unit_never_fail():
    before = results(added=(0.2, "ms"))
    assert regression.compare(results(added=(0.34, "ms")), before)["regressions"] == []
    assert regression.compare(results(added=(0.36, "ms")), before)["regressions"] == ["added"]


def test_runs_of_another_mode_or_without_committed_results_are_not_compared():
    quick = regression.compare(results(mode="quick", cpu=(900.0, "µs")), results(cpu=(300.0, "µs")))
    assert not quick["compared"] and quick["regressions"] == [] and "quick" in quick["why"]
    assert not regression.compare(results(cpu=(900.0, "µs")), None)["compared"]


def test_figures_missing_on_either_side_are_skipped():
    before = results(cpu=(300.0, "µs"))
    now = results(cpu=(310.0, "µs"), new_bar=(5.0, "ms"))
    check = regression.compare(now, before)
    assert [row["bar"] for row in check["rows"]] == ["cpu"] and check["regressions"] == []


def test_the_committed_results_are_read_from_git():
    root = Path(__file__).resolve().parent.parent
    committed = regression.committed_results(root)
    assert committed is not None and committed["meta"]["mode"] in ("full", "quick") and committed["targets"]


def test_the_calibration_workload_gives_a_positive_time():
    assert 0 < regression.calibrate([], sys.executable) < 10_000


def test_the_machine_speed_comes_from_the_bare_pass_through_when_both_runs_measured_it():
    def with_bare(result, bare_us):
        return {**result, "load": {regression.BARE: {"json": {"32": {"cpu_us_per_req": bare_us}}}}}
    before = with_bare(results(calibration=30.0, cpu=(300.0, "µs")), 150.0)
    # the calibration workload says "faster" but the pass-through ran 30% slower: the latter counts
    slower = with_bare(results(calibration=15.0, cpu=(400.0, "µs")), 195.0)
    check = regression.compare(slower, before)
    assert check["speed_ratio"] == 195.0 / 150.0 and check["regressions"] == []
    assert "pass-through" in check["speed_measure"]
    assert regression.compare(with_bare(results(calibration=15.0, cpu=(460.0, "µs")), 195.0),
                              before)["regressions"] == ["cpu"]


def test_the_noise_floor_counts_from_the_committed_figure_even_on_a_faster_machine():
    before = results(calibration=30.0, report=(0.66, "ms"))
    faster = results(calibration=24.0, report=(0.70, "ms"))   # 20% faster: 0.528 ms allowed, +15%
    assert regression.compare(faster, before)["regressions"] == []
    assert regression.compare(results(calibration=24.0, report=(0.82, "ms")), before)["regressions"] == ["report"]


def test_a_faster_machine_tightens_cpu_figures_but_not_wall_clock_ones():
    def with_bare(result, bare_us):
        return {**result, "load": {regression.BARE: {"json": {"32": {"cpu_us_per_req": bare_us}}}}}
    before = with_bare(results(cpu=(250.0, "µs"), cli=(178.0, "ms"), ready=(0.57, "s")), 180.0)
    faster = with_bare(results(cpu=(270.0, "µs"), cli=(193.0, "ms"), ready=(0.59, "s")), 145.0)   # 19% faster
    check = regression.compare(faster, before)
    assert check["regressions"] == ["cpu"], "250 µs is 201 µs here: 270 is beyond both +15% and the noise floor"
    slower = with_bare(results(cpu=(280.0, "µs"), cli=(240.0, "ms"), ready=(0.59, "s")), 216.0)   # 20% slower
    assert regression.compare(slower, before)["regressions"] == [], "a slower machine is allowed more for both"


def test_a_process_start_has_a_floor_of_its_own_and_derived_ratios_are_not_compared():
    before = results(**{"gatectl --help wall time (median of 5)": (178.0, "ms"), "cpu scaled": (227.0, "µs (scaled)"),
                        "added": (0.45, "ms")})
    now = results(**{"gatectl --help wall time (median of 5)": (224.0, "ms"), "cpu scaled": (268.0, "µs (scaled)"),
                     "added": (0.47, "ms")})
    check = regression.compare(now, before)
    assert check["regressions"] == [] and [row["bar"] for row in check["rows"]] == [
        "gatectl --help wall time (median of 5)", "added"]
    slower_start = results(**{"gatectl --help wall time (median of 5)": (235.0, "ms")})
    assert regression.compare(slower_start, before)["regressions"] == ["gatectl --help wall time (median of 5)"]
