"""Ray driven from a child process, so that an abort inside Ray fails one test instead of ending pytest.

Ray's C++ core aborts the process that drives it when one of its internal checks fails
(``task_manager.cc: Check failed ... Tried to complete task that was not pending`` ended
a whole test run on a busy machine: the driver was pytest). So no Ray test drives Ray
in the pytest process. A test starts a child with :class:`Children`:

- ``python -m tests.ray_child --result FILE [--own-ray] '["run", ...]' ...`` runs each
  JSON list as the arguments of one ``suite`` command (:func:`suite.cli.main`), writes
  the exit codes so far to ``FILE`` after each, and exits with the highest. Without
  ``--own-ray`` the child first starts a local Ray cluster
  (2 CPUs) whose workers know the test-only models (:mod:`tests.faulty_models` and the
  gated ones below); with it, ``suite run --executor ray`` starts Ray itself, as a
  user's run does.
- ``python -m tests.ray_child --result FILE --call MODULE:FUNCTION`` calls a function on
  such a cluster and writes what it returns (JSON) to ``FILE``.

An abort, a crash or a hang of the child is then an ordinary test failure whose message
ends with the child's stderr. Each child has its own Ray temp folder (``RAY_TMPDIR``), so
its cluster is apart from any other on the machine and every process of it can be
found: when a child is done with, whatever still names that folder (a raylet, a worker
of a driver that was killed) is killed by pid. ``ray stop`` is never used: it stops
every Ray process of the machine.

Gated models (``gated_a``, ``gated_b``): a small MLP whose training waits until the file
``$SUITE_TEST_GATES/<name>.open`` exists, so a test can hold trials unfinished while it
kills the driver.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from filelock import FileLock

from tests import faulty_models

ROOT = Path(__file__).resolve().parents[1]
GATES_ENV = "SUITE_TEST_GATES"
GATED = ("gated_a", "gated_b")
#: Seconds a gated trial waits for its gate before it fails (a test opens it long before).
GATE_LIMIT = 600.0
#: Seconds a child may run: generous, for a slow machine with both cores busy; only a hang reaches it.
TIMEOUT = 900.0
#: One Ray cluster at a time on this machine, across pytest-xdist workers and concurrent test
#: runs: two local clusters started at once can pick the same ports (ray-project/ray#53906).
CLUSTER_LOCK = Path(tempfile.gettempdir()) / "audio-arch-suite-tests-ray.lock"
#: How long a test waits for another's cluster: every Ray test of a run, one after the other.
CLUSTER_LOCK_TIMEOUT = 3600.0


class Gated(faulty_models.Faulty):
    """A faulty-model MLP whose training waits for its gate file (``mode`` is the family's name)."""

    def _misbehave(self) -> None:
        gate = Path(os.environ[GATES_ENV]) / f"{self.mode}.open"
        deadline = time.monotonic() + GATE_LIMIT
        while not gate.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{gate} was not opened within {GATE_LIMIT:g} s")
            time.sleep(0.05)


def register_models() -> None:
    """Register the faulty and the gated families (in a driver, and as the workers' setup hook)."""
    faulty_models.register()
    faulty_models.register_test_families(GATED, Gated)


# ---------------------------------------------------------------------------------------
# The parent's side: start children, wait for them, clean up after them.


def _ended(pid: int) -> bool:
    """Whether process ``pid`` is gone or a zombie (it runs nothing any more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _is_agent(pid: int) -> bool:
    """Whether ``pid`` is one of the agents a raylet starts beside its workers (``ray::DashboardAgent``, ...)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].strip()
    except OSError:
        return False
    return title.startswith(b"ray::") and title.endswith(b"Agent")


def ray_processes(ray_tmp: Path) -> list[int]:
    """Running processes whose environment or command line names ``ray_tmp``: a child and its Ray cluster.

    Every process of the cluster inherits the child's ``RAY_TMPDIR``, and Ray's own
    processes also name their session folder under it on their command line.
    """
    names = [f"{ray_tmp}\0".encode(), f"{ray_tmp}/".encode()]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            seen = (entry / "environ").read_bytes() + b"\0" + (entry / "cmdline").read_bytes() + b"\0"
        except OSError:  # ended meanwhile, or another user's
            continue
        if any(name in seen for name in names) and not _ended(int(entry.name)):
            found.append(int(entry.name))
    return found


def wait_ended(pids: Sequence[int], timeout: float) -> list[int]:
    """Wait up to ``timeout`` seconds for ``pids`` to end; returns those still running."""
    deadline = time.monotonic() + timeout
    running = [pid for pid in pids if not _ended(pid)]
    while running and time.monotonic() < deadline:
        time.sleep(0.2)
        running = [pid for pid in running if not _ended(pid)]
    return running


def sweep(ray_tmp: Path) -> list[int]:
    """Kill (SIGKILL, each by pid) every process still naming ``ray_tmp``; returns their pids."""
    pids = ray_processes(ray_tmp)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if wait_ended(pids, 60):
        raise RuntimeError(f"processes of the Ray cluster in {ray_tmp} survived SIGKILL: {pids}")
    return pids


def exit_text(code: int | None) -> str:
    """``exit code 2``, ``killed by SIGABRT`` or ``still running``."""
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


class RayChild:
    """One child process; its stdout and stderr go to files in ``folder``.

    Args:
        argv (list[str]): The child's arguments after ``python -m tests.ray_child``.
        folder (Path): A new folder for its output.
        env (dict[str, str]): Extra environment variables.
    """

    def __init__(self, argv: list[str], folder: Path, env: dict[str, str]) -> None:
        folder.mkdir(parents=True)
        self.folder, self.argv, self.result_file = folder, argv, folder / "result.json"
        argv = ["--result", str(self.result_file), *argv]
        # Short and apart: Ray's socket paths under it must stay within 107 bytes.
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="suite-ray-", dir="/tmp" if Path("/tmp").is_dir() else None))
        environment = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}  # never join another cluster
        python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        # Ray runs its workers at nice 15: beside a busy neighbour (CI with other jobs) a trial then gets a few
        # per cent of a core and a test takes many minutes. At 0 they share the CPUs as the local executor does.
        environment |= {"PYTHONPATH": python_path, "RAY_TMPDIR": str(self.ray_tmp), "RAY_worker_niceness": "0", **env}
        with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.ray_child", *argv], cwd=ROOT, env=environment, stdout=out, stderr=err
            )
        self.swept: list[int] = []

    @property
    def pid(self) -> int:
        return self.process.pid

    def result(self) -> Any:
        """What the child wrote to its result file: the exit codes of the commands that ended, or a call's result."""
        return json.loads(self.result_file.read_text()) if self.result_file.exists() else None

    def output(self, stream: str = "stderr", lines: int = 40) -> str:
        """The last ``lines`` lines of its ``stdout`` or ``stderr``."""
        text = (self.folder / stream).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what: str) -> str:
        """An assertion message: ``what``, the child's exit and the end of its stderr."""
        command = " ".join(self.argv)[:300]
        return f"{what}; the child ({command}) {exit_text(self.process.poll())}; its stderr ends:\n{self.output()}"

    def wait(self, timeout: float = TIMEOUT) -> int:
        """Wait for the child to end, at most ``timeout`` seconds (then it is killed and the test fails)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(self.failure(f"did not end within {timeout:g} s")) from None

    def kill(self, signum: int) -> int:
        """Send ``signum`` to the child (not to its cluster) and wait for it to end; returns its exit code."""
        self.process.send_signal(signum)
        return self.wait(120)

    def leftovers(self, timeout: float = 120.0) -> list[int]:
        """Processes of the child's Ray cluster still running ``timeout`` seconds from now, Ray's agents aside.

        After the child ended, Ray's own clean-up (a shutdown, or the fate sharing of its
        processes with the driver that started them) should end every one of them: the
        GCS and raylet at once, the workers within seconds. Ray's idle agents are not
        waited for: after their raylet died they try to report it to the GCS, which died
        too, and exit only when that times out, about a minute later; :meth:`stop` kills them.
        """
        return wait_ended([pid for pid in ray_processes(self.ray_tmp) if not _is_agent(pid)], timeout)

    def stop(self) -> list[int]:
        """End the child if it still runs, then every process of its Ray cluster; returns the pids killed after it."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.swept += sweep(self.ray_tmp)
        return self.swept

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.ray_tmp, ignore_errors=True)


class Children:
    """The children of one test, stopped (with their Ray clusters) when the ``with`` block ends.

    The ``with`` block holds :data:`CLUSTER_LOCK`, so its clusters are the only ones the tests
    run on the machine meanwhile (never nest two blocks: the second would wait for the first).

    Args:
        folder (Path): Where each child's output folder goes (the test's ``tmp_path``).
        env (dict[str, str], optional): Environment variables for every child. (Default: ``None``)
    """

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder, self.env = folder, dict(env or {})
        self.started: list[RayChild] = []
        self.lock = FileLock(CLUSTER_LOCK, timeout=CLUSTER_LOCK_TIMEOUT)

    def __enter__(self) -> Children:
        self.lock.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        try:
            for child in self.started:
                child.close()
        finally:
            self.lock.release()

    def start(self, *commands: list[str], own_ray: bool = False) -> RayChild:
        """Start a child running the ``suite`` commands (each a list of arguments) in turn; see the module docstring."""
        argv = (["--own-ray"] if own_ray else []) + [json.dumps(command) for command in commands]
        return self._start(argv)

    def run(self, *commands: list[str], codes: Sequence[int] = (0,), own_ray: bool = False) -> RayChild:
        """Run the commands in a child to the end; fails the test unless its exit code is in ``codes``."""
        child = self.start(*commands, own_ray=own_ray)
        code = child.wait()
        assert code in codes, child.failure(f"expected exit code {' or '.join(map(str, codes))}")
        return child

    def call(self, target: str) -> Any:
        """Call ``MODULE:FUNCTION`` in a child on its own Ray cluster; returns what the function returned."""
        child = self._start(["--call", target])
        code = child.wait()
        assert code == 0 and child.result_file.exists(), child.failure(f"{target} did not return")
        return child.result()

    def _start(self, argv: list[str]) -> RayChild:
        child = RayChild(argv, self.folder / f"child-{len(self.started)}", self.env)
        self.started.append(child)
        return child


def run_folder(out: Path) -> Path:
    """The one run folder ``suite run --out OUT`` made under ``out``."""
    (folder,) = [path for path in out.iterdir() if path.is_dir()]
    return folder


def trial_records(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The records of ``trials.jsonl`` by model."""
    return {record["model"]: record for record in map(json.loads, (run_dir / "trials.jsonl").read_text().splitlines())}


# ---------------------------------------------------------------------------------------
# The child's side.


def _die_with_parent() -> None:
    """Be killed (SIGKILL) when the parent (pytest) dies, so that no child and no cluster outlives a killed test run."""
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    if os.getppid() != parent:  # the parent died before the call above
        os.kill(os.getpid(), signal.SIGKILL)


def _start_ray() -> None:
    """A local cluster with 2 CPUs whose workers register the test-only models."""
    import ray

    register_models()  # the driver expands the trials by family name too
    names = (faulty_models.MARKER_ENV, GATES_ENV, "PYTHONPATH")
    env_vars = {name: os.environ[name] for name in names if name in os.environ}
    runtime_env = {"worker_process_setup_hook": "tests.ray_child.register_models", "env_vars": env_vars}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning", runtime_env=runtime_env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.ray_child", description=__doc__.split("\n\n")[0])
    parser.add_argument("--own-ray", action="store_true", help="let `suite run` start Ray itself")
    parser.add_argument("--call", metavar="MODULE:FUNCTION", help="call this function instead of suite commands")
    parser.add_argument("--result", type=Path, required=True, help="where the exit codes or the call's result go (JSON)")
    parser.add_argument("commands", nargs="*", help="suite commands, each a JSON list of arguments")
    args = parser.parse_args(argv)
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort leaves no core file in the checkout
    if not args.own_ray:
        _start_ray()
    if args.call:
        module, function = args.call.split(":")
        result = getattr(importlib.import_module(module), function)()
        args.result.write_text(json.dumps(result, default=str))
        return 0
    from suite.cli import main as suite_main

    codes: list[int] = []
    for command in args.commands:
        codes.append(suite_main(json.loads(command)))
        args.result.write_text(json.dumps(codes))  # after each: the commands that ended before an abort count
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
