"""Run one function over many inputs in worker processes, each call under a time limit and a memory limit.

Why our own workers rather than concurrent.futures: a ProcessPoolExecutor cannot stop one task that
hangs, and a worker that dies breaks the whole pool. Here each worker is a plain child process started as
`python -c`, so it imports only what the function needs (never the caller's main script, as the
multiprocessing start methods do) and starts from a small address space. It talks to the parent over two
pipes. The parent gives each call a deadline, kills the worker that misses it and starts a fresh one, and
turns a crash (a segfault in a C library, an abort) into an Outcome for that one input.

A worker dies with its parent: on Linux the kernel kills it when the parent ends (PR_SET_PDEATHSIG), even
a parent killed with SIGKILL while the worker is busy on a file and not reading its pipe; an idle worker
also ends when its pipe reports end-of-file.

Memory: once its imports are done, each worker caps its address space (RLIMIT_AS) at what it already
uses plus the memory limit, so a hostile file raises MemoryError (or makes the C library give up)
inside that worker instead of exhausting the machine.

Outcomes come back in input order, whatever order the workers finish in, so outputs are deterministic.
POSIX only (pipes passed by descriptor, `resource`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from multiprocessing.connection import Connection, wait
from typing import Any

#: A call that runs longer than this (wall clock) is stopped and reported.
DEFAULT_TIME_LIMIT_SECONDS = 60.0
#: Memory one call may use on top of what the worker holds after its imports.
DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024**3
#: At most this many workers by default, however many cores there are (each may use the memory limit).
MAX_DEFAULT_WORKERS = 4
#: A worker is replaced after this many calls, so leaks in C libraries cannot pile up for ever. Not after
#: every call: a fresh worker reads its first files markedly slower (lazy imports, font and parser caches
#: warming up; measured on the PDF corpus: 11.9 s of extraction without replacement, 16.7 s replacing
#: every 25 calls, 21.2 s replacing after each).
DEFAULT_TASKS_PER_WORKER = 500
#: A worker still holding more than this much resident memory after a call is replaced straight away,
#: unless it held nearly as much after its first call: then what it loads once (a model, torch for the
#: zero-shot embedding model) is the floor, and it is replaced when it grows `RECYCLE_GROWTH_BYTES` past it.
RECYCLE_RSS_BYTES = 512 * 1024**2
RECYCLE_GROWTH_BYTES = 256 * 1024**2
#: A worker that has not finished its imports in this time is treated as broken.
STARTUP_TIMEOUT_SECONDS = 60.0
#: How long a worker asked to stop may take before it is killed.
SHUTDOWN_GRACE_SECONDS = 2.0
#: How much of a dead worker's stderr to keep in the reason.
STDERR_TAIL_CHARS = 300

#: prctl(2) option naming the signal the kernel sends a process when its parent dies (Linux).
PR_SET_PDEATHSIG = 1

READY = "ready"
BOOTSTRAP = (
    "import json, sys; "
    "sys.path.extend(p for p in json.loads(sys.argv[3]) if p not in sys.path); "
    "from pipeline.extract.worker import serve; "
    "serve(int(sys.argv[1]), int(sys.argv[2]), parent_pid=int(sys.argv[4]))"
)


class Failure(str, Enum):
    """Why a call produced no value."""

    RAISED = "raised"  # the function raised; `error_type` and `message` say what
    TIMEOUT = "timeout"  # the call ran past the time limit; its worker was killed
    MEMORY = "memory"  # the call hit the memory limit (MemoryError inside the worker)
    CRASHED = "crashed"  # the worker died during the call (a signal, or an exit)


@dataclass(frozen=True)
class Outcome:
    """One input's result: the function's value, or a Failure with what is known about it.

    `seconds` is the call's wall time; `peak_rss_bytes` the worker's peak resident memory during
    the call and `rss_bytes` what it still held after (0 where the platform cannot tell).
    """

    index: int
    value: Any = None
    failure: Failure | None = None
    error_type: str = ""
    message: str = ""
    seconds: float = 0.0
    peak_rss_bytes: int = 0
    rss_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is None


class WorkerStartError(RuntimeError):
    """A worker process could not start (its imports failed, or it died before it was ready)."""


def default_worker_count() -> int:
    """One worker per core this process may use, capped at MAX_DEFAULT_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


def run_isolated(function: Callable[..., Any], inputs: Sequence[tuple], *, workers: int | None = None,
                 time_limit: float = DEFAULT_TIME_LIMIT_SECONDS,
                 memory_limit: int | None = DEFAULT_MEMORY_LIMIT_BYTES,
                 tasks_per_worker: int = DEFAULT_TASKS_PER_WORKER) -> Iterator[Outcome]:
    """Yield one Outcome per tuple of arguments in `inputs`, in input order.

    `function` must be importable by name (a module-level function), since workers
    receive it by reference. `memory_limit=None` leaves memory uncapped. Workers
    are stopped when the iteration ends, also when it is abandoned early.
    """
    if time_limit <= 0:
        raise ValueError(f"time_limit must be positive, got {time_limit}")
    if tasks_per_worker < 1:
        raise ValueError(f"tasks_per_worker must be at least 1, got {tasks_per_worker}")
    inputs = list(inputs)
    if not inputs:
        return
    try:
        pickle.dumps(function)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise ValueError(f"{function!r} cannot be sent to a worker: pass a module-level function") from error
    size = min(workers or default_worker_count(), len(inputs))
    pool = _Pool(function, size=size, time_limit=time_limit, memory_limit=memory_limit,
                 tasks_per_worker=tasks_per_worker)
    try:
        yield from pool.run(inputs)
    finally:
        pool.close()


# --- the parent's side ----------------------------------------------------------------------------


class _State(Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"


class _Worker:
    """A child process, the two pipe ends the parent holds, and what it is doing now."""

    def __init__(self, function: Callable[..., Any], memory_limit: int | None) -> None:
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        self.stderr = tempfile.TemporaryFile()
        search_path = [entry or os.getcwd() for entry in sys.path]
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", BOOTSTRAP, str(task_read), str(result_write), json.dumps(search_path),
                 str(os.getpid())],
                pass_fds=(task_read, result_write), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self.stderr)
        except BaseException:
            os.close(task_write)
            os.close(result_read)
            self.stderr.close()
            raise
        finally:  # the child's ends belong to the child now
            os.close(task_read)
            os.close(result_write)
        self.to_worker = Connection(task_write, readable=False)
        self.from_worker = Connection(result_read, writable=False)
        self.state = _State.STARTING
        self.task: int | None = None
        self.started = time.monotonic()
        self.deadline = self.started + STARTUP_TIMEOUT_SECONDS
        self.tasks_done = 0
        #: resident memory after a call past which the worker is replaced (set by its first call)
        self.recycle_at = RECYCLE_RSS_BYTES
        with contextlib.suppress(OSError):  # it died already; its pipe reports end-of-file and _Pool says why
            self.to_worker.send(function)
            self.to_worker.send(memory_limit)

    def stderr_tail(self) -> str:
        try:
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - 4 * STDERR_TAIL_CHARS))
            text = self.stderr.read().decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return " / ".join(lines[-3:])[-STDERR_TAIL_CHARS:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.release()

    def release(self) -> None:
        for end in (self.to_worker, self.from_worker):
            end.close()
        self.stderr.close()


class _Pool:
    """Workers, the queue of inputs, and the event loop that hands out inputs and collects outcomes."""

    def __init__(self, function: Callable[..., Any], *, size: int, time_limit: float, memory_limit: int | None,
                 tasks_per_worker: int) -> None:
        self.function = function
        self.size = size
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.tasks_per_worker = tasks_per_worker
        self.workers: list[_Worker] = []
        self.stopping: list[_Worker] = []

    def run(self, inputs: list[tuple]) -> Iterator[Outcome]:
        queue = deque(enumerate(inputs))
        finished: dict[int, Outcome] = {}
        next_index = 0
        while next_index < len(inputs):
            self.start_workers(wanted=len(queue) + sum(w.state is _State.BUSY for w in self.workers))
            for worker in self.workers:
                if worker.state is _State.IDLE and queue:
                    self.dispatch(worker, *queue.popleft(), finished)
            while next_index in finished:
                yield finished.pop(next_index)
                next_index += 1
            if next_index < len(inputs):
                self.collect(finished)

    def start_workers(self, *, wanted: int) -> None:
        while len(self.workers) < min(self.size, wanted):
            self.workers.append(_Worker(self.function, self.memory_limit))

    def dispatch(self, worker: _Worker, index: int, arguments: tuple, finished: dict[int, Outcome]) -> None:
        worker.state, worker.task = _State.BUSY, index
        worker.started = time.monotonic()
        worker.deadline = worker.started + self.time_limit
        try:
            worker.to_worker.send((index, arguments))
        except OSError:
            self.record_death(worker, finished)

    def collect(self, finished: dict[int, Outcome]) -> None:
        """Wait for the next message or deadline, then record what happened."""
        waiting = [w for w in self.workers if w.state is not _State.IDLE]
        if not waiting:
            return
        timeout = max(0.0, min(w.deadline for w in waiting) - time.monotonic())
        ready = wait([w.from_worker for w in waiting], timeout)
        for worker in waiting:
            if worker.from_worker in ready:
                self.receive(worker, finished)
        now = time.monotonic()
        for worker in waiting:
            if worker in self.workers and worker.deadline <= now:
                if worker.state is _State.STARTING:
                    tail = worker.stderr_tail()
                    worker.kill()
                    self.workers.remove(worker)
                    raise WorkerStartError(f"a worker process was not ready after {STARTUP_TIMEOUT_SECONDS:g} s"
                                           + (f": {tail}" if tail else ""))
                if worker.state is _State.BUSY:
                    finished[worker.task] = Outcome(worker.task, failure=Failure.TIMEOUT,
                                                    message=f"still running after {self.time_limit:g} s",
                                                    seconds=now - worker.started)
                    worker.kill()
                    self.workers.remove(worker)

    def receive(self, worker: _Worker, finished: dict[int, Outcome]) -> None:
        try:
            message = worker.from_worker.recv()
        except (EOFError, OSError):
            self.record_death(worker, finished)
            return
        if worker.state is _State.STARTING:
            worker.state = _State.IDLE
            return
        finished[message.index] = message
        worker.state, worker.task = _State.IDLE, None
        worker.tasks_done += 1
        if worker.tasks_done == 1:
            worker.recycle_at = max(RECYCLE_RSS_BYTES, message.rss_bytes + RECYCLE_GROWTH_BYTES)
        if (message.failure is Failure.MEMORY or worker.tasks_done >= self.tasks_per_worker
                or message.rss_bytes > worker.recycle_at):
            self.retire(worker)

    def record_death(self, worker: _Worker, finished: dict[int, Outcome]) -> None:
        """The worker closed its pipe: it died. During a call that is the call's outcome; before, a start error."""
        try:
            returncode = worker.process.wait(timeout=SHUTDOWN_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            returncode = worker.process.wait()
        tail = worker.stderr_tail()
        state, task = worker.state, worker.task
        worker.release()
        self.workers.remove(worker)
        if state is _State.STARTING:
            raise WorkerStartError(f"a worker process could not start ({describe_exit(returncode)})"
                                   + (f": {tail}" if tail else ""))
        finished[task] = Outcome(task, failure=Failure.CRASHED, message=describe_exit(returncode),
                                 seconds=time.monotonic() - worker.started)

    def retire(self, worker: _Worker) -> None:
        """Ask a worker to finish; it is reaped when the pool closes."""
        self.workers.remove(worker)
        with contextlib.suppress(OSError):  # already gone: nothing to tell it
            worker.to_worker.send(None)
        self.stopping.append(worker)

    def close(self) -> None:
        """Stop every worker: idle ones are asked to finish, busy ones are killed, none is left behind."""
        for worker in list(self.workers):
            if worker.state is _State.IDLE:
                self.retire(worker)
            else:
                worker.kill()
                self.workers.remove(worker)
        deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
        for worker in self.stopping:
            with contextlib.suppress(subprocess.TimeoutExpired):  # killed just below either way
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            worker.kill()
        self.stopping = []


def describe_exit(returncode: int | None) -> str:
    """Say how a worker process ended, in words: 'killed by SIGSEGV', 'exited with status 1'."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with status {returncode}"


# --- the worker's side ----------------------------------------------------------------------------


def serve(task_descriptor: int, result_descriptor: int, *, parent_pid: int | None = None) -> None:
    """A worker's life: receive the function and the memory limit, cap memory, then answer calls until told to stop."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the workers
    tasks = Connection(task_descriptor, writable=False)
    results = Connection(result_descriptor, readable=False)
    function = tasks.recv()
    memory_limit = tasks.recv()
    apply_limits(memory_limit)
    results.send(READY)
    while True:
        try:
            message = tasks.recv()
        except EOFError:
            return
        if message is None:
            return
        index, arguments = message
        outcome = call(function, index, arguments)
        try:
            results.send(outcome)
        except Exception as error:  # the value would not pickle: report that instead
            outcome = Outcome(index, failure=Failure.RAISED, error_type=type(error).__name__,
                              message=f"the result could not be sent back: {error}", seconds=outcome.seconds,
                              peak_rss_bytes=outcome.peak_rss_bytes)
            results.send(outcome)
        if outcome.failure is Failure.MEMORY:
            return  # after a MemoryError the process may be in a poor state; the parent starts a fresh one


def die_with_parent(parent_pid: int | None) -> None:
    """Have the kernel kill this worker when its parent dies (Linux), then make sure the parent is still there.

    A worker busy on a file does not read its pipe, so without this it would go on
    after its parent was killed with SIGKILL, re-parented, until its call ended. A
    parent that died before the request took effect has left this process
    re-parented already, so a parent pid other than `parent_pid` means: exit now.
    The signal follows the parent *thread* that started the worker, so workers
    belong to the thread that runs them (as run_isolated's generator does).
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no prctl here: the pipe's end-of-file still stops it
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(0)


def call(function: Callable[..., Any], index: int, arguments: tuple) -> Outcome:
    reset_peak_rss()
    started = time.perf_counter()
    try:
        value = function(*arguments)
    except MemoryError:
        return Outcome(index, failure=Failure.MEMORY, error_type="MemoryError", **measures(started))
    except Exception as error:
        return Outcome(index, failure=Failure.RAISED, error_type=type(error).__name__, message=str(error),
                       **measures(started))
    return Outcome(index, value=value, **measures(started))


def measures(started: float) -> dict[str, float | int]:
    return {"seconds": time.perf_counter() - started, "peak_rss_bytes": peak_rss_bytes(),
            "rss_bytes": proc_status_bytes("VmRSS")}


def apply_limits(memory_limit: int | None) -> None:
    """Cap the address space at what the worker uses now plus `memory_limit`; never write core files."""
    import resource

    _, core_hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, core_hard))
    if memory_limit is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = address_space_bytes() + memory_limit
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def proc_status_bytes(field: str) -> int:
    """A memory figure from /proc/self/status in bytes (0 where there is no /proc)."""
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def address_space_bytes() -> int:
    return proc_status_bytes("VmSize")


def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS mark (Linux), so the next reading belongs to one call only."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")


def peak_rss_bytes() -> int:
    """Peak resident memory since the last reset; on other systems, since the process started."""
    peak = proc_status_bytes("VmHWM")
    if peak:
        return peak
    try:
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    except (ImportError, OSError):
        return 0
