"""The test tiers: markers set from the fixtures a test uses (tests/conftest.py), and CI runs
the README's test command."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def collected(marker: str, *paths: str) -> list[str]:
    select = ["-m", marker] if marker else []
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           *select, *paths], capture_output=True, text=True, cwd=ROOT, timeout=300)
    return [line for line in proc.stdout.splitlines() if "::" in line]


@pytest.mark.slow
def test_markers_follow_the_fixtures():
    files = ("tests/bisect/test_start.py", "tests/store/test_import.py", "tests/test_packaging.py")
    marked = collected("ssh or db or slow", *files)
    everything = collected("", *files)
    start = [t for t in everything if t.startswith(files[0])]
    assert start and set(start) <= set(marked)               # every start test uses the sshd
    imports = [t for t in marked if t.startswith(files[1])]
    assert imports and all(("[mysql" in t or "[postgresql" in t) for t in imports), imports  # not csv/sqlite
    assert [t for t in marked if t.startswith(files[2])] == [
        "tests/test_packaging.py::test_wheel_installs_the_scripts_and_fastpath_scripts_finds_them"]


def selections(text: str) -> set[tuple[str, bool]]:
    """(-m expression, parallel?) of each pytest invocation in text."""
    out = set()
    for line in re.findall(r"python3 -m pytest[^\n&|]*", text):
        marker = re.search(r"-m ['\"]([^'\"]+)['\"]|-m (\w+)", line.replace("python3 -m pytest", ""))
        out.add(((marker.group(1) or marker.group(2)) if marker else "", "-n auto" in line))
    return out


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("**Run the tests**"):]
    block = block[:block.index("```", block.index("```") + 3)]
    assert selections(block) == {("not lab", True), ("lab", False)}
    assert selections((ROOT / ".ci" / "run").read_text()) == selections(block)


# Each test marked slow (by hand, outside the lab), and the developer-tier test that keeps its
# behaviour in the developer tier: a prefix of a node id (a test function or one parameter).
SLOW_AND_KEPT = {
    "tests/bisect/test_search_ahead.py::test_while_a_session_runs_the_next_likely_commit_builds_and_an_"
    "unneeded_build_is_stopped": "tests/bisect/test_search_ahead.py::test_bisect_auto_ahead_through_the_command",
    "tests/bisect/test_search_ahead.py::test_an_interrupted_run_stops_its_builds_and_resumes_on_the_images_built":
        "tests/bisect/test_search_ahead.py::test_the_default_build_ahead_runs_build_local_kernel_in_a_worktree",
    "tests/test_packaging.py::test_wheel_installs_the_scripts_and_fastpath_scripts_finds_them":
        "tests/test_packaging.py::test_checkout_scripts_are_links_to_the_package_copy",
    "tests/test_tiers.py::test_markers_follow_the_fixtures": "tests/test_tiers.py::test_ci_runs_the_readme",
    "tests/test_tiers.py::test_every_slow_test_leaves_one_of_its_behaviour_in_the_developer_tier":
        "tests/test_tiers.py::test_ci_runs_the_readme",
    "tests/pool/test_labgrid.py::test_reservation_waits_while_another_client_holds_a_place":
        "tests/pool/test_labgrid.py::test_a_deadline_or_too_few_places_is_a_pool_error_naming_the_holders",
    "tests/pool/test_labgrid.py::test_kill_9_leaves_the_locks_and_the_next_run_on_this_host_frees_them":
        "tests/pool/test_labgrid.py::test_ctrl_c_sigterm_sighup_release_the_locks[2]",
    "tests/pool/test_labgrid.py::test_ctrl_c_sigterm_sighup_release_the_locks[15]":
        "tests/pool/test_labgrid.py::test_ctrl_c_sigterm_sighup_release_the_locks[2]",
    "tests/pool/test_labgrid.py::test_ctrl_c_sigterm_sighup_release_the_locks[1]":
        "tests/pool/test_labgrid.py::test_ctrl_c_sigterm_sighup_release_the_locks[2]",
    "tests/pool/test_labgrid.py::test_ctrl_c_while_waiting_cancels_the_reservations":
        "tests/pool/test_labgrid.py::test_ctrl_c_sigterm_sighup_release_the_locks[2]",
    "tests/pool/test_labgrid.py::test_a_higher_priority_reservation_is_served_first":
        "tests/pool/test_labgrid.py::test_reserve_locks_k_places_and_reads_ssh_and_power_from_their_resources",
    "tests/store/test_docs_stores.py::test_store_examples_in_docs_are_real":
        "tests/store/test_import.py::test_export_command_round_trips",
    "tests/analysis/test_docs_results.py::test_example_output[fastpath result show sqlite:///demo.db "
    "--swprofile 6.1-baseline --swprofile 6.1-regression --plot demo.png]":
        "tests/analysis/test_rows.py::test_plot_writes_a_png_even_for_one_sample_and_one_session",
    "tests/analysis/test_show_sessions.py::test_plot_says_where_and_its_title_clears_the_first_row":
        "tests/analysis/test_rows.py::test_plot_writes_a_png_even_for_one_sample_and_one_session",
    "tests/bisect/test_policy.py::test_confirm_false_confirmations_stay_near_alpha_for_a_small_step":
        "tests/bisect/test_policy.py::test_confirm_keeps_the_baselines_noise_for_stationary_pairs",
    "tests/bisect/test_search.py::test_k_suts_measure_k_distinct_commits_at_once[4]":
        "tests/bisect/test_search.py::test_k_suts_measure_k_distinct_commits_at_once[2]",
    "tests/bisect/test_search.py::test_k_suts_take_fewer_rounds_than_one":
        "tests/bisect/test_search.py::test_k_suts_measure_k_distinct_commits_at_once[2]",
    "tests/bisect/test_wall_sim.py::test_four_suts_take_less_wall_time_than_one_and_builds_ahead_are_used":
        "tests/bisect/test_search.py::test_k_suts_measure_k_distinct_commits_at_once[2]",
    "tests/bisect/test_lookahead.py::test_the_likeliest_few_hold_the_next_pick_more_often_than_the_fitted_levels_alone":
        "tests/bisect/test_lookahead.py::test_a_spread_tries_values_off_the_levels_too",
    "tests/bisect/test_search.py::test_an_interrupted_batch_run_resumes_without_retaking_a_session":
        "tests/bisect/test_search.py::test_an_interrupted_engine_run_resumes_without_retaking_a_session",
    "tests/bisect/test_engine.py::test_an_improvement_in_the_range_is_never_blamed":
        "tests/bisect/test_search.py::test_an_improvement_in_the_range_is_reported_not_blamed",
    "tests/bisect/test_engine.py::test_wild_boots_do_not_move_the_answer":
        "tests/bisect/test_engine.py::test_one_culprit_under_normal_noise_is_found_in_few_sessions",
    "tests/bisect/test_engine.py::test_two_baseline_sessions_are_enough_to_start":
        "tests/bisect/test_search.py::test_few_baselines_are_not_refused_the_engine_measures_the_ends",
    "tests/bisect/test_driver.py::test_git_bisect_run_finds_the_culprit[3-None]":
        "tests/bisect/test_driver.py::test_git_bisect_run_finds_the_culprit[9-None]",
    "tests/bisect/test_driver.py::test_git_bisect_run_finds_the_culprit[6-4]":
        "tests/bisect/test_driver.py::test_git_bisect_run_finds_the_culprit[12-11]",
    "tests/execute/test_run_sshd.py::test_ctrl_c_then_append_loses_and_duplicates_nothing":
        "tests/execute/test_run_sshd.py::test_ctrl_c_stops_the_benchmark_on_the_sut_and_keeps_its_samples",
    "tests/store/test_sessions.py::test_concurrent_processes_never_get_the_same_index[postgresql]":
        "tests/store/test_sessions.py::test_concurrent_processes_never_get_the_same_index[mysql]",
    "tests/store/test_import_atomic.py::test_two_imports_of_the_same_rows_in_opposite_orders_both_succeed[mysql]":
        "tests/store/test_import_atomic.py::test_two_imports_of_the_same_rows_in_opposite_orders_both_succeed"
        "[postgresql]",
    "tests/store/test_sql.py::test_concurrent_writers_lose_nothing[mysql]":
        "tests/store/test_sql.py::test_concurrent_writers_lose_nothing[postgresql]",
}


@pytest.mark.slow
def test_every_slow_test_leaves_one_of_its_behaviour_in_the_developer_tier():
    """The slow mark keeps the developer tier short, not thin: every test marked slow (outside
    the lab) is listed above with a developer-tier test of the same behaviour, which exists."""
    assert set(collected("slow and not lab")) == set(SLOW_AND_KEPT)
    files = sorted({kept.split("::")[0] for kept in SLOW_AND_KEPT.values()})
    developer = collected("not lab and not slow", *files)
    missing = [kept for kept in SLOW_AND_KEPT.values() if not any(t.startswith(kept) for t in developer)]
    assert missing == []
