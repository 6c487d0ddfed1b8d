import json
import platform
import subprocess
import sys
import time

import numpy as np
import pytest
import threadpoolctl
import torch

from stylegram import cpu
from stylegram.cpu import CpuLoad, cpu_choice, fit_threads, free_threads, keep_freed_memory

BUSY_LOOP = [sys.executable, "-c", "while True: pass"]


@pytest.fixture
def fresh_probe(monkeypatch, tmp_path):
    """An empty cache and a probe whose timings the test sets: seconds per ``precision/layout/threads``."""
    monkeypatch.setenv("STYLEGRAM_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("STYLEGRAM_THREADS", raising=False)
    timings: dict[str, float] = {}
    calls: list[str] = []

    def timed(net, dtype, layout, repeats, give_up_after_s):
        key = f"{'bf16' if dtype is not None else 'fp32'}/{layout}/{torch.get_num_threads()}"
        calls.append(key)
        value = timings[key]
        return value.pop(0) if isinstance(value, list) else value  # a list: one timing after the other

    monkeypatch.setattr(cpu, "_time_vgg_step", timed)
    monkeypatch.setattr(cpu, "_time_eigh", lambda library: timings.get(f"eigh/{library}", 0.05))
    monkeypatch.setattr(
        cpu, "_time_vgg_forward",
        lambda net, dtype, layout, repeats: timings.get(f"forward/{layout}", 0.05 if layout == "contiguous" else 0.02),
    )  # fmt: skip
    monkeypatch.setattr(cpu, "max_threads", lambda: 2)
    monkeypatch.setattr(cpu.CpuLoad, "others", lambda self, min_window_s=0.0: 0.0)  # a quiet machine
    cpu_choice.cache_clear()
    yield timings, calls
    cpu_choice.cache_clear()


def test_free_threads_leave_out_cpus_others_keep_busy():
    assert free_threads(0.0, 2, 2) == 2
    assert free_threads(0.2, 2, 2) == 2  # a quarter of a CPU now and then is not worth a thread
    assert free_threads(0.3, 2, 2) == 1
    assert free_threads(1.0, 4, 4) == 3
    assert free_threads(8.0, 4, 4) == 1  # never none
    assert free_threads(0.0, 8, 2) == 2  # never more than the probe found worth it


def test_the_probe_picks_the_fastest_precision_and_layout_and_caches_it(fresh_probe, tmp_path):
    timings, calls = fresh_probe
    timings.update({"fp32/contiguous/2": 0.10, "fp32/channels_last/2": 0.09,
                    "bf16/contiguous/2": 0.06, "bf16/channels_last/2": 0.05, "bf16/channels_last/1": 0.09})  # fmt: skip
    choice = cpu_choice()
    assert (choice.precision, choice.layout, choice.threads, choice.cached) == ("bf16", "channels_last", 2, False)
    assert choice.inference_layout == "channels_last"
    assert len(calls) == 7  # four configurations, then half the threads and all of them in turn
    entries = json.loads((tmp_path / "cpu-probe.json").read_text())
    assert [entry["layout"] for entry in entries.values()] == ["channels_last"]

    cpu_choice.cache_clear()
    again = cpu_choice()
    assert again.cached and (again.precision, again.layout) == ("bf16", "channels_last")
    assert len(calls) == 7  # read from the cache, nothing measured


def test_the_faster_eigendecomposition_is_chosen_and_gives_the_same_answer(fresh_probe):
    timings, _ = fresh_probe
    timings.update({"fp32/contiguous/2": 0.1, "fp32/channels_last/2": 0.1, "bf16/contiguous/2": 0.5,
                    "bf16/channels_last/2": 0.5, "fp32/contiguous/1": 0.2})  # fmt: skip
    timings.update({"eigh/numpy": 0.53, "eigh/torch": 0.135})  # the AMX Xeon's
    assert cpu_choice().eigh == "torch"
    matrix = torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    for library in cpu.EIGH_CHOICES:
        values, vectors = cpu._EIGH[library](matrix)
        assert torch.allclose(vectors @ torch.diag(values) @ vectors.T, matrix)
    cpu_choice.cache_clear()
    timings.update({"eigh/numpy": 0.027, "eigh/torch": 0.08})
    cpu.measure_again()
    assert cpu_choice().eigh == "numpy"


def test_numpy_decomposes_on_one_blas_thread(monkeypatch):
    # OpenBLAS's threads spin on after a call and slow the network pass that follows.
    threads_seen = []

    def eigh(matrix):
        threads_seen.extend(
            pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"
        )
        return numpy_eigh(matrix)

    numpy_eigh = np.linalg.eigh
    monkeypatch.setattr(np.linalg, "eigh", eigh)
    values, _ = cpu._EIGH["numpy"](torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64)))
    assert values.tolist() == [1.0, 3.0]
    assert threads_seen and set(threads_seen) == {1}


def test_small_gains_do_not_win(fresh_probe):
    timings, _ = fresh_probe
    timings.update({"forward/contiguous": 0.050, "forward/channels_last": 0.049})
    # bf16 9 % faster and channels_last 2 % faster are within the margins; half the threads nearly as fast.
    timings.update({"fp32/contiguous/2": 0.100, "fp32/channels_last/2": 0.098,
                    "bf16/contiguous/2": 0.092, "bf16/channels_last/2": 0.091, "fp32/contiguous/1": 0.11})  # fmt: skip
    choice = cpu_choice()
    assert (choice.precision, choice.layout, choice.threads) == ("fp32", "contiguous", 1)
    assert choice.inference_layout == "contiguous"


def test_a_burst_of_load_during_one_timing_does_not_choose_the_thread_count(fresh_probe):
    timings, _ = fresh_probe
    # All threads timed slow once (another process woke up), fast when timed again beside half of them.
    timings.update({"fp32/contiguous/2": 0.5, "fp32/channels_last/2": 0.5, "bf16/contiguous/2": 0.9,
                    "bf16/channels_last/2": [0.4, 0.12], "bf16/channels_last/1": [0.22, 0.23]})  # fmt: skip
    choice = cpu_choice()
    assert (choice.precision, choice.layout, choice.threads) == ("bf16", "channels_last", 2)
    assert choice.seconds["bf16/channels_last/2"] == 0.12 and choice.seconds["bf16/channels_last/1"] == 0.22


def test_under_load_the_thread_count_is_not_judged(fresh_probe, monkeypatch):
    timings, _ = fresh_probe
    monkeypatch.setattr(cpu.CpuLoad, "others", lambda self, min_window_s=0.0: 1.0)
    timings.update({"fp32/contiguous/2": 0.2, "fp32/channels_last/2": 0.2,
                    "bf16/contiguous/2": 0.5, "bf16/channels_last/2": 0.5, "fp32/contiguous/1": 0.2})  # fmt: skip
    choice = cpu_choice()
    assert (choice.precision, choice.threads, choice.others_load) == ("fp32", 2, 1.0)
    assert (choice.layout, choice.inference_layout) == ("contiguous", "channels_last")  # judged apart


def test_an_answer_measured_under_load_is_measured_again_on_a_quiet_machine(fresh_probe, monkeypatch):
    timings, calls = fresh_probe
    timings.update({"fp32/contiguous/2": 0.2, "fp32/channels_last/2": 0.2,
                    "bf16/contiguous/2": 0.5, "bf16/channels_last/2": 0.5, "fp32/contiguous/1": 0.3})  # fmt: skip
    monkeypatch.setattr(cpu.CpuLoad, "others", lambda self, min_window_s=0.0: 1.0)
    assert cpu_choice().others_load == 1.0
    measured = len(calls)
    cpu_choice.cache_clear()
    assert cpu_choice().cached and len(calls) == measured  # still busy: the answer is kept
    monkeypatch.setattr(cpu.CpuLoad, "others", lambda self, min_window_s=0.0: 0.0)
    cpu_choice.cache_clear()
    again = cpu_choice()
    assert not again.cached and again.others_load == 0.0 and len(calls) > measured
    cpu_choice.cache_clear()
    assert cpu_choice().cached  # measured quiet: kept from now on


def test_a_broken_cache_is_measured_again(fresh_probe, tmp_path):
    timings, calls = fresh_probe
    timings.update({"fp32/contiguous/2": 0.1, "fp32/channels_last/2": 0.1,
                    "bf16/contiguous/2": 0.5, "bf16/channels_last/2": 0.5, "fp32/contiguous/1": 0.2})  # fmt: skip
    (tmp_path / "cpu-probe.json").write_text("{not json")
    assert cpu_choice().precision == "fp32"
    cpu_choice.cache_clear()
    (tmp_path / "cpu-probe.json").write_text(json.dumps({cpu.machine_key(2): {"precision": "fp64"}}))
    assert cpu_choice().precision == "fp32" and len(calls) == 14


def load_beside(command: list[str]) -> float | None:
    """The other processes' load that ``CpuLoad`` reads over most of a second while ``command`` runs."""
    load = CpuLoad()
    assert load.others() is None  # no window yet
    busy = subprocess.Popen(command)
    try:
        time.sleep(0.2)
        load.others(min_window_s=0.0)
        time.sleep(0.8)
        return load.others()
    finally:
        busy.kill()
        busy.wait()


def test_the_load_of_a_busy_process_is_seen():
    others = load_beside(BUSY_LOOP)
    assert others is not None and others > 0.6


def test_a_niced_process_is_not_counted():
    niced = load_beside(["nice", "-n", "19", *BUSY_LOOP])
    quiet = load_beside(["sleep", "2"])  # what the machine's other work adds anyway (a training beside the tests)
    assert niced is not None and quiet is not None and niced - quiet < 0.4


@pytest.fixture
def fitter_on(monkeypatch):
    """A fresh thread fitter on a machine of ``cpus`` CPUs whose probe chose them all, no pin; torch's count and
    the pin's cache are put back after."""
    before = torch.get_num_threads()
    monkeypatch.delenv("STYLEGRAM_THREADS", raising=False)

    def machine(cpus: int) -> cpu._ThreadFitter:
        fitter = cpu._ThreadFitter()
        monkeypatch.setattr(cpu, "_fitter", fitter)
        monkeypatch.setattr(cpu, "usable_cpus", lambda: cpus)
        monkeypatch.setattr(cpu, "cpu_choice", lambda: cpu.CpuChoice("fp32", "contiguous", cpus, {}))
        return fitter

    yield machine
    cpu.max_threads.cache_clear()
    torch.set_num_threads(before)


def test_fit_threads_follows_the_load_and_the_pin(fitter_on, monkeypatch):
    fitter = fitter_on(2)
    monkeypatch.setattr(fitter.load, "others", lambda: 1.0)
    assert fit_threads() == 1 == torch.get_num_threads()
    monkeypatch.setattr(fitter.load, "others", lambda: 0.0)
    assert fit_threads() == 1  # read at most once a second
    fitter.checked -= cpu.LOAD_INTERVAL_S
    assert fit_threads() == 2 == torch.get_num_threads()
    monkeypatch.setenv("STYLEGRAM_THREADS", "1")
    cpu.max_threads.cache_clear()
    assert fit_threads() == 1 == torch.get_num_threads()


def test_cpus_reserved_for_the_process_own_threads_are_kept_from_torch(fitter_on, monkeypatch):
    fitter = fitter_on(4)
    monkeypatch.setattr(fitter.load, "others", lambda: 1.0)  # another process keeps one CPU busy
    assert fit_threads() == 3
    with cpu.reserve_cpus(1):
        assert fit_threads() == 2 == torch.get_num_threads()  # at once, not a second later
        with cpu.reserve_cpus(1):
            assert fit_threads() == 1  # reservations add up (two videos at once on a worker's threads)
        with cpu.reserve_cpus(5):
            assert fit_threads() == 1  # never none
        assert fit_threads() == 2
    assert fit_threads() == 3 == torch.get_num_threads()
    monkeypatch.setenv("STYLEGRAM_THREADS", "2")
    cpu.max_threads.cache_clear()
    with cpu.reserve_cpus(1):
        assert fit_threads() == 1  # the pinned count is the process's, its own threads included


def test_freed_memory_is_kept_for_reuse_where_the_c_library_is_glibc():
    assert keep_freed_memory() is (platform.libc_ver()[0] == "glibc")
