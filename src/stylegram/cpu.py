"""What this CPU runs fastest, and how much of it is free: measured, never read off the CPU's name.

Two facts decide how fast the networks run on a CPU:

1. **Precision and memory layout.** bf16 runs VGG19 about twice as fast as fp32 on one AMD EPYC, twice as
   *slow* on an Intel Xeon without AMX and some sixty times slower on an AVX2-only EPYC; on a Xeon with AMX, bf16
   in channels_last runs a convolution 2.2 times faster than bf16 in the default layout. :func:`cpu_choice`
   times one forward and backward pass of VGG19 to ``relu5_1`` (the Gatys step) in each precision and layout,
   and with half the threads (in turn with all of them), once per machine: the answer is cached per CPU model,
   instruction set, thread count and torch version (``STYLEGRAM_CACHE_DIR``, default ``~/.cache/stylegram``),
   so it costs nothing the second time; an answer measured under load is measured again by the first process
   that finds the machine quiet (each process until then watches the load for ``QUIET_CHECK_S``).
2. **Free cores.** Two OpenMP threads on a machine where another process keeps one of the two cores busy wait
   for each other at every barrier: a Gatys run took 4.5 times as long as with the machine to itself, while
   one thread took 1.75 times as long. :func:`fit_threads` reads how busy the other processes keep the CPUs this
   process may use (``/proc/stat`` less this process's own time, at most once a second) and sets torch's thread
   count to the CPUs left. Processes with a lower priority (``nice``) are not counted: they yield. The
   environment variable ``STYLEGRAM_THREADS=N`` pins the count instead. The count changes a result's last bits
   (a parallel sum splits its work by it), so a run writes down the counts it used (:class:`ThreadSchedule`) and
   a remake uses them again.

3. **Linear algebra.** WCT takes matrix square roots of 512×512 covariances (an eigendecomposition each):
   NumPy's LAPACK took 27 ms on one AMD EPYC and 0.53 s on an AMX Xeon, where torch's took 0.135 s. The probe
   times both (torch's on one thread: threaded, under load, it took 7 s) and :func:`eigh` uses the faster.

And one fact of the C library: glibc hands large freed blocks back to the system, and a step that allocates its
activations afresh pays a page fault per 4 KB; :func:`keep_freed_memory` keeps them for reuse.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import platform
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from stylegram.io.files import atomic_path

PRECISION_CHOICES = ("fp32", "bf16")
LAYOUT_CHOICES = ("contiguous", "channels_last")
EIGH_CHOICES = ("numpy", "torch")
#: Side of the covariance whose eigendecomposition the probe times: relu4_1's channels.
EIGH_PROBE_SIDE = 512
#: Changes when the probe measures something new, so that answers cached by an older one are measured again.
PROBE_VERSION = 5
#: The probe's picture: small enough to take a few seconds for all it tries, large enough that VGG19's
#: convolutions dominate as they do in a real run.
PROBE_SIZE = (160, 120)
PROBE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: bf16 must beat fp32, channels_last the default layout, and all threads half of them, by these factors to be
#: chosen: noise never picks the slower one, and fewer threads leave the rest of the machine alone.
BF16_MARGIN = 1.15
LAYOUT_MARGIN = 1.05
THREADS_MARGIN = 1.2
#: Other processes busier than this share of a CPU while the probe ran leave its thread count unjudged.
QUIET_LOAD = 0.25
#: How long a process watches the load before it measures again an answer that was measured under load.
QUIET_CHECK_S = 0.2
#: A CPU counts as taken when other processes keep it busy more than this share of the time.
TAKEN_SHARE = 0.25
#: Seconds between two readings of the load.
LOAD_INTERVAL_S = 1.0
#: Fewer seconds than this since the previous reading tell nothing about the load yet.
MIN_WINDOW_S = 0.05
#: glibc's malloc returns every block over its threshold (128 KB at first) to the system when it is freed, so
#: each Gatys step faulted its activations in again: 4.7 million page faults in 11 steps at 1024 px, a quarter
#: of the time. Blocks up to 32 MB (the most glibc allows) now come from the heap, which is trimmed only past
#: 1 GB free at its top and grows 256 MB at a time: 2.96 → 2.26 s per step at 1024 px, 0.59 → 0.53 at 512 px,
#: for 12 % more peak memory. ``(mallopt option, value)``: M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_TOP_PAD.
MALLOC_SETTINGS = ((-3, 32 * 2**20), (-1, 2**30), (-2, 2**28))


@dataclass(frozen=True)
class CpuChoice:
    """How the networks run fastest on this CPU, and the probe's figures behind it.

    Attributes:
        precision: ``fp32`` or ``bf16`` (autocast; images, Gram matrices and losses stay fp32).
        layout: ``contiguous`` or ``channels_last``, for a Gatys step (forward and backward).
        threads: the most threads worth using on an idle machine.
        seconds: seconds per probe step of every configuration tried, e.g. ``{"bf16/channels_last/2": 0.09}``,
            and of each eigendecomposition (``eigh/numpy``, ``eigh/torch``).
        eigh: whose eigendecomposition :func:`eigh` uses: ``numpy`` or ``torch``.
        inference_layout: the layout for a forward pass alone (the one-pass engines): bf16 max pooling in the
            contiguous layout took 27 ms at 384×288×64 on one EPYC, in channels_last 2 ms, which a step's
            backward pass hides and a forward pass does not.
        others_load: CPUs other processes kept busy while the probe measured.
        cached: whether this came from the cache rather than a measurement in this process.
    """

    precision: str
    layout: str
    threads: int
    seconds: dict[str, float]
    eigh: str = "numpy"
    inference_layout: str = "channels_last"
    others_load: float = 0.0
    cached: bool = False


def memory_format(layout: str) -> torch.memory_format:
    """The torch memory format of a layout name.

    Example:
        >>> memory_format("channels_last")
        torch.channels_last
    """
    return torch.channels_last if layout == "channels_last" else torch.contiguous_format


def _cpuinfo(field: str) -> str | None:
    """The value of the first ``field`` line of ``/proc/cpuinfo``, or None where there is none."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(field):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's model name as the system reports it."""
    return _cpuinfo("model name") or platform.processor() or platform.machine() or "unknown"


def cpu_flags() -> list[str]:
    """The CPU's feature flags as the system reports them (``avx512_bf16``, ``amx_tile``…); empty where unknown."""
    return (_cpuinfo("flags") or "").split()


def _instruction_set() -> str:
    """A short digest of the CPU's feature flags: two CPUs of one model name may differ (e.g. in a VM)."""
    flags = _cpuinfo("flags")
    return "unknown" if flags is None else hashlib.sha256(flags.encode()).hexdigest()[:12]


def cache_dir() -> Path:
    """Where machine measurements are kept: ``STYLEGRAM_CACHE_DIR``, else ``$XDG_CACHE_HOME/stylegram``."""
    if os.environ.get("STYLEGRAM_CACHE_DIR"):
        return Path(os.environ["STYLEGRAM_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stylegram"


def machine_key(threads: int) -> str:
    """What a probe's answer holds for: the CPU, its instruction set, the threads and the torch version."""
    return (
        f"{cpu_model()} | flags {_instruction_set()} | {threads} threads | torch {torch.__version__}"
        f" | probe {PROBE_VERSION}"
    )


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity, capped by a container's CPU quota (cgroup v2)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return count


class CpuLoad:
    """How many of this process's CPUs other processes keep busy, between one reading and the next.

    ``/proc/stat`` counts the time every CPU spent busy; this process's own CPU time (``time.process_time``,
    all its threads) is taken off, so what is left is the others'. Time spent on ``nice``d processes counts only
    when this process is itself niced: otherwise they yield to it.
    """

    def __init__(self) -> None:
        self.cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        self.ticks_per_s = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.count_nice = hasattr(os, "nice") and os.nice(0) > 0
        self.last = self._read()

    def _read(self) -> tuple[float, float, float] | None:
        """(wall, CPU seconds all the process's CPUs were busy, this process's CPU seconds), or None."""
        try:
            lines = Path("/proc/stat").read_text().splitlines()
        except OSError:
            return None
        wanted = None if self.cpus is None else {f"cpu{index}" for index in self.cpus}
        busy = 0
        for line in lines:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu" or (wanted is not None and name not in wanted):
                continue
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
            busy += user + system + irq + softirq + steal + (nice if self.count_nice else 0)
        return time.monotonic(), busy / self.ticks_per_s, time.process_time()

    def others(self, min_window_s: float = MIN_WINDOW_S) -> float | None:
        """CPUs the other processes kept busy on average since the last call (None: too soon to tell)."""
        now = self._read()
        if now is None or self.last is None or now[0] - self.last[0] < min_window_s:
            return None
        (wall, busy, own), (last_wall, last_busy, last_own) = now, self.last
        self.last = now
        return max(0.0, (busy - last_busy) - (own - last_own)) / (wall - last_wall)


def free_threads(others: float, usable: int, most: int) -> int:
    """Threads to run with when other processes keep ``others`` of ``usable`` CPUs busy, at most ``most``.

    Example:
        >>> free_threads(0.0, 2, 2), free_threads(0.1, 2, 2), free_threads(0.9, 2, 2), free_threads(3.0, 2, 2)
        (2, 2, 1, 1)
    """
    taken = max(0, math.ceil(others - TAKEN_SHARE))
    return max(1, min(most, usable - taken))


def _time_vgg_step(
    net: torch.nn.Module, dtype: torch.dtype | None, layout: str, repeats: int, give_up_after_s: float
) -> float:
    """Best seconds of one Gatys step's network work: ``net`` (VGG19 to relu5_1) forward, the Gram matrices of
    the style layers and their backward pass."""
    from stylegram.ops.gram import gram_matrix

    net = net.to(memory_format=memory_format(layout))
    width, height = PROBE_SIZE
    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    image = image.contiguous(memory_format=memory_format(layout)).requires_grad_(True)
    best = math.inf
    for attempt in range(repeats + 1):  # the first pass warms oneDNN's caches up and is not counted
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            features = net(image, PROBE_LAYERS)
        sum(gram_matrix(value).square().sum() for value in features.values()).backward()
        image.grad = None
        if attempt:
            best = min(best, time.perf_counter() - started)
        if time.perf_counter() - started > give_up_after_s:
            break
    return best


def _time_vgg_forward(net: torch.nn.Module, dtype: torch.dtype | None, layout: str, repeats: int) -> float:
    """Best seconds of ``net`` (VGG19) forward alone to ``relu4_1``, as the one-pass engines run it."""
    net = net.to(memory_format=memory_format(layout))
    width, height = PROBE_SIZE
    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    image = image.contiguous(memory_format=memory_format(layout))
    best = math.inf
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
        for attempt in range(repeats + 1):
            started = time.perf_counter()
            net(image, ("relu4_1",))
            if attempt:
                best = min(best, time.perf_counter() - started)
    return best


def _one_thread_eigh(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigh(matrix)
    finally:
        torch.set_num_threads(before)


def _numpy_eigh(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # On one BLAS thread: OpenBLAS's own threads spin on after a call, and the network pass after it ran at
    # half speed while they held the cores (a relu1_1 decode 35 -> 60-100 ms after a 64x64 eigh; on one
    # thread the 512x512 eigh takes 54 against 44 ms).
    with threadpool_limits(1, user_api="blas"):
        values, vectors = np.linalg.eigh(matrix.cpu().numpy())
    return torch.from_numpy(values).to(matrix.device), torch.from_numpy(vectors).to(matrix.device)


_EIGH = {"numpy": _numpy_eigh, "torch": _one_thread_eigh}


def eigh(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, by the library the probe found faster
    here (on a GPU: torch's).

    Example:
        >>> values, _ = eigh(torch.diag(torch.tensor([2.0, 1.0], dtype=torch.float64)))
        >>> values.tolist()
        [1.0, 2.0]
    """
    if matrix.device.type != "cpu":
        return torch.linalg.eigh(matrix)
    return _EIGH[cpu_choice().eigh](matrix)


def _time_eigh(library: str) -> float:
    generator = torch.Generator().manual_seed(0)
    factor = torch.randn(EIGH_PROBE_SIDE, 2 * EIGH_PROBE_SIDE, generator=generator, dtype=torch.float64)
    matrix = factor @ factor.T / factor.shape[1]
    best = math.inf
    for attempt in range(3):
        started = time.perf_counter()
        _EIGH[library](matrix)
        if attempt:
            best = min(best, time.perf_counter() - started)
    return best


def probe(threads: int) -> CpuChoice:
    """Measure every precision and layout with ``threads`` threads, then the best with half as many.

    Other processes busy while it measures slow every configuration alike, so precision and layout are still
    judged, but not the thread count: under load it stays ``threads`` (``others_load`` records the load).
    """
    from stylegram.features.vgg import VGG19

    load = CpuLoad()
    with torch.random.fork_rng():  # the caller's random numbers stay as they were
        torch.manual_seed(0)
        net = VGG19(last_layer="relu5_1").requires_grad_(False)  # random weights cost what the real ones do
    before = torch.get_num_threads()
    seconds: dict[str, float] = {}
    try:
        torch.set_num_threads(threads)
        for precision in PRECISION_CHOICES:
            dtype = torch.bfloat16 if precision == "bf16" else None
            # A CPU without native bf16 can be slower by orders of magnitude: stop as soon as that is clear.
            give_up = 3 * _best(seconds, "fp32") if precision == "bf16" else math.inf
            for layout in LAYOUT_CHOICES:
                seconds[f"{precision}/{layout}/{threads}"] = _time_vgg_step(net, dtype, layout, 2, give_up)
        precision = "bf16" if _best(seconds, "bf16") * BF16_MARGIN <= _best(seconds, "fp32") else "fp32"
        dtype = torch.bfloat16 if precision == "bf16" else None
        plain, channels_last = (seconds[f"{precision}/{layout}/{threads}"] for layout in LAYOUT_CHOICES)
        layout = "channels_last" if channels_last * LAYOUT_MARGIN <= plain else "contiguous"
        for candidate in LAYOUT_CHOICES:
            seconds[f"forward/{precision}/{candidate}/{threads}"] = _time_vgg_forward(net, dtype, candidate, 3)
        plain, channels_last = (seconds[f"forward/{precision}/{layout}/{threads}"] for layout in LAYOUT_CHOICES)
        inference_layout = "channels_last" if channels_last * LAYOUT_MARGIN <= plain else "contiguous"
        if threads > 1:
            # Half the threads, all of them again, half again, each count's best kept: a burst of other work
            # during one timing cannot choose the count (one timing each once gave one thread on a machine where
            # two took 0.124 s against 0.225 s).
            for count in (threads // 2, threads, threads // 2):
                torch.set_num_threads(count)
                key = f"{precision}/{layout}/{count}"
                seconds[key] = min(seconds.get(key, math.inf), _time_vgg_step(net, dtype, layout, 2, math.inf))
    finally:
        torch.set_num_threads(before)
    others = load.others(min_window_s=0.0) or 0.0
    chosen_threads = threads
    if threads > 1 and others <= QUIET_LOAD:
        all_threads, half = (seconds[f"{precision}/{layout}/{n}"] for n in (threads, threads // 2))
        if all_threads * THREADS_MARGIN > half:
            chosen_threads = threads // 2
    for library in EIGH_CHOICES:
        seconds[f"eigh/{library}"] = _time_eigh(library)
    fastest_eigh = min(EIGH_CHOICES, key=lambda library: seconds[f"eigh/{library}"])
    rounded = {key: round(value, 4) for key, value in seconds.items()}
    return CpuChoice(precision, layout, chosen_threads, rounded, fastest_eigh, inference_layout, round(others, 2))


def _best(seconds: dict[str, float], precision: str) -> float:
    return min((value for key, value in seconds.items() if key.startswith(precision + "/")), default=math.inf)


def _cache_file() -> Path:
    return cache_dir() / "cpu-probe.json"


def _read_cache() -> dict:
    try:
        entries = json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _write_cache(key: str, choice: CpuChoice) -> None:
    """Keep the choice for the next process; a cache that cannot be written only costs the next probe."""
    entries = _read_cache()
    entries[key] = {name: value for name, value in asdict(choice).items() if name != "cached"}
    try:
        _cache_file().parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(_cache_file()) as temporary:
            temporary.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
    except OSError:
        pass


def _from_cache(entry: object) -> CpuChoice | None:
    try:
        choice = CpuChoice(**entry, cached=True)  # type: ignore[arg-type]
    except TypeError:
        return None
    if (
        choice.precision not in PRECISION_CHOICES
        or choice.layout not in LAYOUT_CHOICES
        or choice.eigh not in EIGH_CHOICES
        or choice.inference_layout not in LAYOUT_CHOICES
        or choice.threads < 1
    ):
        return None
    return choice


@lru_cache(maxsize=1)
def cpu_choice() -> CpuChoice:
    """This machine's fastest precision, layout and thread count: from the cache, or measured now (seconds).

    An answer measured under load is measured again by the first process that finds the machine quiet.
    """
    threads = max_threads()
    key = machine_key(threads)
    cached = _from_cache(_read_cache().get(key))
    if cached is not None and (cached.others_load <= QUIET_LOAD or not _quiet_now()):
        return cached
    return _measure_and_keep(threads)


def _quiet_now() -> bool:
    # Load hides small differences: on the AVX2-only EPYC of 4 December a probe taken beside two trainings
    # chose the contiguous layout for inference, and two taken on the quiet machine channels_last (13 % faster).
    load = CpuLoad()
    time.sleep(QUIET_CHECK_S)
    others = load.others(min_window_s=0.0)
    return others is not None and others <= QUIET_LOAD


def measure_again() -> CpuChoice:
    """Probe now whatever the cache holds (``stylegram probe --again``), keep the answer and use it from now."""
    choice = _measure_and_keep(max_threads())
    cpu_choice.cache_clear()
    return choice


def _measure_and_keep(threads: int) -> CpuChoice:
    choice = probe(threads)
    _write_cache(machine_key(threads), choice)
    return choice


def _pinned_threads() -> int | None:
    """The thread count ``STYLEGRAM_THREADS`` pins (a whole number of at least 1), or None."""
    pinned = os.environ.get("STYLEGRAM_THREADS", "").strip()
    return int(pinned) if pinned.isdigit() and int(pinned) >= 1 else None


@lru_cache(maxsize=1)
def max_threads() -> int:
    """The most threads to use: ``STYLEGRAM_THREADS`` when set, else torch's own count when first asked (it
    follows ``OMP_NUM_THREADS`` and ``torch.set_num_threads``), at most the usable CPUs."""
    return _pinned_threads() or max(1, min(torch.get_num_threads(), usable_cpus()))


class _ThreadFitter:
    def __init__(self) -> None:
        self.load = CpuLoad()
        self.checked = -math.inf
        self.free: int | None = None  # None until the load has been read
        self.reserved = 0

    def fit(self) -> int:
        if time.monotonic() - self.checked >= LOAD_INTERVAL_S:
            self.checked = time.monotonic()
            others = self.load.others()
            if others is not None:
                self.free = free_threads(others, usable_cpus(), cpu_choice().threads)
        return _set_threads(max(1, (self.free or max_threads()) - self.reserved))


def _set_threads(count: int) -> int:
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


#: Started when stylegram is first imported, so the first fit already has a window to judge the load by.
_fitter = _ThreadFitter()


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed blocks for reuse (``MALLOC_SETTINGS``); False where it is not glibc."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(option, value) == 1 for option, value in MALLOC_SETTINGS)


def fit_threads() -> int:
    """Set torch's thread count to the CPUs other processes leave free now, and return it.

    Cheap to call at every step: the load is read at most once a second. With ``STYLEGRAM_THREADS`` set, the
    count is that and never changes. Inside :func:`reserve_cpus` the CPUs reserved are taken off either count.
    The first call also has freed memory kept for reuse (:func:`keep_freed_memory`): every engine calls this
    before its first pass.
    """
    keep_freed_memory()
    if _pinned_threads() is not None:
        return _set_threads(max(1, max_threads() - _fitter.reserved))
    return _fitter.fit()


@contextmanager
def reserve_cpus(count: int) -> Iterator[None]:
    """Keep ``count`` CPUs from torch while inside, for work this process runs beside it on threads of its own
    (a video's optical flow, found while the network paints the frame): :func:`fit_threads` counts them as taken.
    Reservations made at once (nested, or on other threads) add up.
    Two threads of torch beside a busy flow thread on two cores wait for each other at every barrier (15.7 frames/s
    against 25.1 with one; ``docs/video.md``).

    Example:
        >>> before = torch.get_num_threads()
        >>> with reserve_cpus(max_threads()):  # all of them: torch still keeps one
        ...     fit_threads()
        1
        >>> _ = fit_threads(); torch.set_num_threads(before)
    """
    _add_reserved(count)
    try:
        yield
    finally:
        _add_reserved(-count)


_reserved_lock = threading.Lock()


def _add_reserved(count: int) -> None:
    # Reservations add up: two videos painted at once on a worker's threads keep a CPU each.
    if count:
        with _reserved_lock:
            _fitter.reserved += count
            _fitter.checked = -math.inf  # fitted again at once, not a second later


class ThreadSchedule:
    """A run's thread count step by step: fitted to the load and written down, or replayed from a record.

    ``changes`` is ``[[step, count], ...]``, the count from each step on; a run records it (``run["threads"]``)
    so that a remake given it as ``replay`` sums every step with as many threads as the original did, and so
    gets the same picture bit for bit whatever the load is now.

    Example:
        >>> before = torch.get_num_threads()
        >>> schedule = ThreadSchedule(replay=[[1, 1], [3, 2]])
        >>> [schedule.fit(step) for step in (1, 2, 3, 4)], schedule.changes
        ([1, 1, 2, 2], [[1, 1], [3, 2]])
        >>> torch.set_num_threads(before)
    """

    def __init__(self, replay: list[list[int]] | None = None) -> None:
        self.replay = sorted(replay) if replay else None
        self.changes: list[list[int]] = []

    def fit(self, step: int) -> int:
        """Set the thread count for ``step`` (1-based) and return it."""
        if self.replay is None:
            count = fit_threads()
        else:
            keep_freed_memory()
            count = _set_threads(
                next((count for start, count in reversed(self.replay) if start <= step), self.replay[0][1])
            )
        if not self.changes or self.changes[-1][1] != count:
            self.changes.append([step, count])
        return count
