"""Run every benchmark in benchmarks/ and append the results to benchmarks/RESULTS.md, with the machine.

    uv run python benchmarks/run_all.py                 # everything
    uv run python benchmarks/run_all.py --only backfill,memory
    uv run python benchmarks/run_all.py --quick         # smaller sizes (each script's --quick), for a smoke run
    uv run python benchmarks/run_all.py --list

A benchmark is any benchmarks/*.py other than this file and modules starting with "_". Each runs as its own
process (cwd = repo root). RESULTS.md first gets a header naming the machine (CPU model, nproc, memory), the
commit and the date; then, per benchmark:
* a script whose --help offers `--write` is run with it and appends its own section to RESULTS.md;
* any other script prints its results as Markdown on stdout, which is appended as its section.
`--quick` is passed on only to scripts that offer it. A failing benchmark is recorded as failed (with the
tail of its stderr) and the others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"


def discover() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if p.stem != "run_all" and not p.stem.startswith("_"))


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict[str, str]:
    cpuinfo = _read("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or platform.machine())
    meminfo = _read("/proc/meminfo")
    mem_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), 0)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        commit += " (+ uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    try:
        from importlib.metadata import version

        dagster_version = version("dagster")
    except Exception:  # noqa: BLE001 - informational only
        dagster_version = "?"
    return {
        "CPU": model,
        "nproc": f"{usable} usable of {os.cpu_count()}",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "dagster": dagster_version,
        "load average at start": load,
        "commit": commit,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--no-append", action="store_true", help="print the results, don't touch RESULTS.md")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark (default 3600)")
    args = parser.parse_args(argv)

    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(unknown)} (have: {', '.join(names)})")
        names = [n for n in names if n in wanted]

    info = machine()
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = "\n".join([f"## run_all.py, {started}{' (--quick)' if args.quick else ''}", "",
                        *[f"* {k}: {v}" for k, v in info.items()],
                        f"* benchmarks: {', '.join(names)}", ""])
    print(header)
    append(header, args.no_append)
    failed = []
    for name in names:
        script = BENCH_DIR / f"{name}.py"
        options = _options(script)
        writes_itself = "--write" in options and not args.no_append
        cmd = [sys.executable, str(script), *(["--write"] if writes_itself else []),
               *(["--quick"] if args.quick and "--quick" in options else [])]
        print(f"--- {name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=args.timeout)
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            code, err = "timeout", f"timed out after {args.timeout:.0f} s"
        elapsed = time.perf_counter() - t0
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        section = [f"### {name}.py: {status}, {elapsed:.0f} s", ""]
        if writes_itself:
            section.append("_(the script appended its own section above)_" if code == 0 else "")
        else:
            section.append(out.strip() or "_(no output)_")
        if code != 0:
            failed.append(name)
            sys.stderr.write(err[-3000:])
            section += ["", "```", "\n".join(err.strip().splitlines()[-15:]), "```"]
        text = "\n".join(section).rstrip() + "\n"
        print(text)
        append(text, args.no_append)
        print(f"--- {name}: {status} in {elapsed:.0f} s", file=sys.stderr, flush=True)
    return 1 if failed else 0


def _options(script: Path) -> str:
    """The script's --help text (to see which of --write / --quick it offers)."""
    try:
        return subprocess.run([sys.executable, str(script), "--help"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def append(text: str, disabled: bool) -> None:
    if disabled:
        return
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    RESULTS.write_text(existing.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
