"""Run every benchmark, each in a fresh process, print the tables and write them to a file.

    python -m bench [--out bench/results.md] [--only generation,pipeline,retrieval,checks] [--quick]

The Markdown file starts with the machine and its load when the run began, since every
figure depends on both; the README quotes it.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT

BENCHES = {
    "generation": ["bench.bench_generation"],
    "pipeline": ["bench.bench_pipeline"],
    "retrieval": ["bench.bench_retrieval"],
    "checks": ["bench.bench_checks"],
}
QUICK = {  # a smoke run in a couple of minutes, for checking the benchmarks themselves
    "generation": ["--prompts", "2"],
    "pipeline": ["--questions", "4"],
    "retrieval": ["--sizes", "10000", "--queries", "50"],
    "checks": ["--messages", "20", "--repeats", "1"],
}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    import faiss
    import torch
    import transformers

    try:
        from importlib.metadata import version

        llama = version("xllamacpp")
    except Exception:
        llama = "not installed"
    return (f"Machine: {cpu}, {os.cpu_count()} cores, {mem_kb / 2**20:.0f} GB RAM; Python "
            f"{platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, "
            f"faiss {faiss.__version__}, xllamacpp (llama.cpp) {llama}. Load average at the start "
            f"(1, 5, 15 min): {load}. Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES))
    parser.add_argument("--quick", action="store_true", help="few samples: checks the benchmarks run")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    sections = [f"# Benchmarks\n\n{machine()}\n"]
    print(sections[0], flush=True)
    failed = []
    for name in names:
        t = time.perf_counter()
        cmd = [sys.executable, "-m", *BENCHES[name], *(QUICK[name] if args.quick else [])]
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if run.returncode:
            failed.append(name)
            text = f"## {name}: failed (exit {run.returncode})\n\n```\n{run.stderr.strip()[-2000:]}\n```\n"
        else:
            text = run.stdout.strip() + f"\n\n({name} took {time.perf_counter() - t:.0f} s)\n"
        sections.append(text)
        print(text, flush=True)
    args.out.write_text("\n".join(sections), encoding="utf-8")
    print(f"written to {args.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
