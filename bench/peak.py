"""Run a Python module or script, then record this process's peak memory (make bench).

    python bench/peak.py -m promptsync sync staging production --force --yes
    python bench/peak.py bench/oldway.py django

Exactly like `python -m MODULE ARGS` / `python SCRIPT ARGS`, except that just before the
interpreter exits it writes its own peak resident set size (VmHWM from /proc/self/status, in
kB) to the file named by BENCH_PEAK_FILE. That is the Python process alone: child processes
(pg_dump, psql) are not counted.
"""

from __future__ import annotations

import os
import runpy
import sys


def peak_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    out = os.environ.pop("BENCH_PEAK_FILE", "")
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    module = sys.argv[1] == "-m"
    target = sys.argv[2] if module else sys.argv[1]
    sys.argv = [target, *sys.argv[(3 if module else 2) :]]
    try:
        if module:
            sys.path[0] = os.getcwd()  # as `python -m` has it, not bench/
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path[0] = os.path.dirname(os.path.abspath(target))
            runpy.run_path(target, run_name="__main__")
    finally:
        if out:
            with open(out, "w") as f:
                f.write(f"{peak_kb()}\n")


if __name__ == "__main__":
    main()
