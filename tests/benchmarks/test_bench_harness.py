"""The benchmark harness itself: run.py passes each bench only flags it takes, a p99 needs
1,000 samples, and a CANCEL answered job.finished counts as answered."""

from __future__ import annotations

import importlib
import math
import os
import subprocess
import sys
import time

import pytest

from benchmarks import host, report
from benchmarks.common import P99_MIN_SAMPLES, p99, pct
from benchmarks.fabric_control import cancel_quietly
from benchmarks.run import BENCHES, ROOT
from medialoom.clients.client import ClientError
from tests.support import System


@pytest.mark.parametrize("bench", BENCHES, ids=lambda b: b.name)
def test_run_passes_each_bench_only_flags_it_takes(bench) -> None:
    module = importlib.import_module(bench.module)
    for argv in (bench.full, bench.quick):
        if hasattr(module, "parser"):
            module.parser().parse_args(argv)  # exits 2 on a flag it does not take
        else:
            helptext = subprocess.run([sys.executable, "-m", bench.module, "--help"], cwd=ROOT,
                                      capture_output=True, text=True, check=True).stdout
            for flag in (a for a in argv if a.startswith("--")):
                assert flag in helptext, f"{bench.module} takes no {flag}"


def test_p99_needs_a_thousand_samples() -> None:
    values = [float(i) for i in range(1, P99_MIN_SAMPLES)]
    assert math.isnan(p99(values))
    values.append(float(P99_MIN_SAMPLES))
    assert p99(values) == 990.0
    assert pct([3.0, 1.0, 2.0], 50) == 2.0


def test_latency_line_says_na_for_a_round_with_too_few_samples(capsys) -> None:
    report.show_latency("ours", "x", [[1.0] * P99_MIN_SAMPLES, [2.0] * 10])
    line = capsys.readouterr().out
    assert "p99 n/a (a round had 10 samples" in line and "p50 1.50 ms [1.00-2.00]" in line


@pytest.mark.e2e
def test_cancel_of_a_finished_job_counts_as_answered(broker_only: System) -> None:
    with broker_only.client() as c:
        job = c.start("sleep", params={"steps": 1})["id"]  # no workers: stays queued
        cancel_quietly(c, job)  # queued: cancelled at once
        cancel_quietly(c, job)  # already finished: job.finished, not an exception
        with pytest.raises(ClientError) as err:
            cancel_quietly(c, "0" * 26)
        assert err.value.code == "job.not_found"


def test_host_watch_counts_a_busy_thread_as_running_or_waiting_for_a_cpu() -> None:
    """A thread that only computes is always running or runnable: the two shares add up to
    the window whatever else loads the machine; the machine's idle share is a share."""
    with host.Watch(os.getpid()) as watch:
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:
            pass
    s = watch.shares
    assert 0.0 <= s.idle <= 100.0 and 0.0 <= s.steal <= 100.0
    assert s.ran > 0.0 and s.waited >= 0.0
    assert 80.0 <= s.ran + s.waited <= 110.0, s
    gone = host.Watch(2**22 + 1).start().stop()  # above any pid_max: no such thread
    assert math.isnan(gone.ran) and math.isnan(gone.waited)
