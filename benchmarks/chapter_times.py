"""Execute each chapter notebook from a cold start and record its time and memory.

Every notebook runs in a fresh Python kernel started for it alone, with no
jupyter-cache and no JAX compilation cache, so the numbers include kernel
start-up, imports and every JIT compilation. For each notebook the script records

- wall time from kernel start to kernel shutdown, in seconds;
- peak resident memory of the kernel process, in MiB: the kernel's high-water
  mark (``VmHWM`` in ``/proc/<pid>/status``) on Linux, otherwise the largest
  value sampled every ``--sample-interval`` seconds;
- peak resident memory of the kernel and all its child processes, summed at
  each sample.

Results go to ``chapter_times.json`` (full record) and ``chapter_times.md``
(a table that the book's status page includes) in ``--output-dir``.

Usage, from the repository root with the project environment active::

    python benchmarks/chapter_times.py                    # every chapters/*.ipynb
    python benchmarks/chapter_times.py chapters/02_gradient_flow.ipynb

Exits with status 1 if a notebook fails (its row is still written, with the
error) and 2 if there is nothing to run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import threading
import time
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# Prefer the kernelspec of the running environment over user-wide ones, and keep
# JAX from reusing compiled code across runs. The kernel inherits both settings.
os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"

import nbformat  # noqa: E402
import psutil  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
REPORTED_PACKAGES = ("jax", "jaxlib", "numpy", "matplotlib", "ipywidgets", "nbclient")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class ChapterRecord:
    """Measurements of one cold-start notebook execution."""

    notebook: str
    status: str
    wall_time_s: float
    peak_rss_mib: float | None
    peak_tree_rss_mib: float | None
    error: str | None = None


class KernelMemoryMonitor:
    """Sample the resident memory of a notebook client's kernel in a background thread.

    The kernel process is found through ``client.km.provisioner.pid`` once the
    client has started it.
    """

    def __init__(self, client: NotebookClient, interval_s: float) -> None:
        self._client = client
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_hwm_bytes: int | None = None
        self.peak_sampled_bytes: int | None = None
        self.peak_tree_bytes: int | None = None

    def __enter__(self) -> "KernelMemoryMonitor":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _kernel_pid(self) -> int | None:
        km = self._client.km
        provisioner = getattr(km, "provisioner", None) if km is not None else None
        return getattr(provisioner, "pid", None)

    def _run(self) -> None:
        while not self._stop.is_set():
            pid = self._kernel_pid()
            if pid is not None:
                self._sample(pid)
            self._stop.wait(self._interval_s)

    def _sample(self, pid: int) -> None:
        try:
            kernel = psutil.Process(pid)
            own = kernel.memory_info().rss
            tree = own
            for child in kernel.children(recursive=True):
                try:
                    tree += child.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
        except psutil.NoSuchProcess:
            return
        self.peak_sampled_bytes = max(own, self.peak_sampled_bytes or 0)
        self.peak_tree_bytes = max(tree, self.peak_tree_bytes or 0)
        hwm = read_vm_hwm(pid)
        if hwm is not None:
            self.peak_hwm_bytes = max(hwm, self.peak_hwm_bytes or 0)

    @property
    def peak_rss_bytes(self) -> int | None:
        """Peak resident memory of the kernel process: VmHWM where Linux provides it."""
        if self.peak_hwm_bytes is not None:
            return self.peak_hwm_bytes
        return self.peak_sampled_bytes


def read_vm_hwm(pid: int) -> int | None:
    """Return the resident-memory high-water mark of process ``pid`` in bytes, or None off Linux."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    kib = int(line.split()[1])
                    return kib * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_notebook(path: Path, timeout_s: int, kernel_name: str, interval_s: float) -> ChapterRecord:
    """Execute one notebook in a fresh kernel, in its own directory, and measure it."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout_s,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
    )
    status, error = "ok", None
    start = time.perf_counter()
    with KernelMemoryMonitor(client, interval_s) as monitor:
        try:
            client.execute()
        except CellTimeoutError as exc:
            status, error = "timeout", first_line(exc)
        except CellExecutionError as exc:
            status, error = "error", first_line(exc)
        except DeadKernelError as exc:
            status, error = "kernel died", first_line(exc)
    wall = time.perf_counter() - start
    return ChapterRecord(
        notebook=path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else str(path),
        status=status,
        wall_time_s=round(wall, 2),
        peak_rss_mib=to_mib(monitor.peak_rss_bytes),
        peak_tree_rss_mib=to_mib(monitor.peak_tree_bytes),
        error=error,
    )


def first_line(exc: BaseException) -> str:
    """Return the last non-empty line of an exception message, which names the error.

    When that line has no message (a bare ``assert``), the failing source line,
    which IPython marks with ``---->``, is appended.
    """
    text = ANSI_ESCAPE.sub("", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    summary = lines[-1]
    if summary.endswith(":"):
        marked = [line for line in lines if line.startswith("---->")]
        if marked:
            source = marked[-1].removeprefix("---->").strip()
            summary = f"{summary} {re.sub(r'^[0-9]+ +', '', source)}"
    return summary


def to_mib(value: int | None) -> float | None:
    return None if value is None else round(value / MIB, 1)


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or platform's guess elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine_record() -> dict[str, object]:
    """Describe the hardware and software the measurements were taken on."""
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "packages": {name: package_version(name) for name in REPORTED_PACKAGES},
    }


def format_number(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def render_markdown(records: list[ChapterRecord], machine: dict[str, object], recorded_at: str) -> str:
    """Render the records as a Markdown table with the machine description under it."""
    lines = [
        "| Notebook | Status | Wall time (s) | Peak kernel RSS (MiB) | Peak RSS incl. children (MiB) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for record in records:
        status = record.status if record.error is None else f"{record.status}: {record.error}"
        status = status.replace("|", "\\|")
        lines.append(
            f"| `{record.notebook}` | {status} | {format_number(record.wall_time_s, 1)} "
            f"| {format_number(record.peak_rss_mib, 0)} | {format_number(record.peak_tree_rss_mib, 0)} |"
        )
    total = sum(record.wall_time_s for record in records)
    lines.append(f"| **Total** | | **{total:.1f}** | | |")
    packages = machine["packages"]
    assert isinstance(packages, dict)
    versions = ", ".join(f"{name} {ver}" for name, ver in packages.items())
    lines += [
        "",
        f"Recorded {recorded_at} with `python benchmarks/chapter_times.py`, one fresh kernel per notebook, "
        "no execution cache and no JAX compilation cache, one notebook at a time.",
        f"Machine: {machine['cpu']}, {machine['logical_cores']} logical cores, "
        f"{machine['memory_gib']} GiB memory, {machine['os']}.",
        f"Software: Python {machine['python']}, {versions}.",
        "Peak kernel RSS is the kernel's resident-memory high-water mark (VmHWM on Linux); "
        "the last column adds any child processes, sampled periodically.",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="notebooks to run (default: every chapters/*.ipynb, in name order)",
    )
    parser.add_argument(
        "--timeout", type=int, default=600, help="seconds one cell may run before it fails (default: 600)"
    )
    parser.add_argument(
        "--kernel", default="python3", help="name of the Jupyter kernel to start (default: python3)"
    )
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=0.05,
        help="seconds between memory samples of the kernel process tree (default: 0.05)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=REPO_ROOT / "benchmarks" / "results",
        help="folder for chapter_times.json and chapter_times.md (default: benchmarks/results)",
    )
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if not 0 < args.sample_interval <= 10:
        parser.error(f"--sample-interval must be in (0, 10] seconds, got {args.sample_interval}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    notebooks = [path.resolve() for path in args.notebooks] or sorted((REPO_ROOT / "chapters").glob("*.ipynb"))
    if not notebooks:
        print("error: no notebooks to run; chapters/ contains no .ipynb files.", file=sys.stderr)
        return 2
    missing = [str(path) for path in notebooks if not path.is_file()]
    if missing:
        print(f"error: notebook not found: {', '.join(missing)}", file=sys.stderr)
        return 2

    records = []
    for path in notebooks:
        print(f"Running {path.name} ...", flush=True)
        record = run_notebook(path, args.timeout, args.kernel, args.sample_interval)
        print(
            f"  {record.status}: {record.wall_time_s:.1f} s, "
            f"peak kernel RSS {format_number(record.peak_rss_mib, 0)} MiB",
            flush=True,
        )
        if record.error:
            print(f"  {record.error}", file=sys.stderr)
        records.append(record)

    recorded_at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_record()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.output_dir / "chapter_times.json"
    md_path = args.output_dir / "chapter_times.md"
    payload = {
        "recorded_at": recorded_at,
        "settings": {"timeout_s": args.timeout, "kernel": args.kernel, "sample_interval_s": args.sample_interval},
        "machine": machine,
        "chapters": [asdict(record) for record in records],
    }
    json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(records, machine, recorded_at), encoding="utf-8")
    print(f"Wrote {json_path} and {md_path}")

    failed = [record.notebook for record in records if record.status != "ok"]
    if failed:
        print(f"error: {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
