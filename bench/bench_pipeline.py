"""End-to-end figures for the README: ingest, cold start, first token, finished answer.

Each figure comes with a baseline measured in the same run:
- ingest vs the raw sentence-transformers encode of the same chunk texts (pipeline overhead);
- cold start without vs with the cached converted weights;
- the full pipeline vs the extractive-only pipeline (no language model) on the same questions.

    python bench/bench_pipeline.py [--questions 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLD_START = """
import time, sys
t0 = time.perf_counter()
from pathlib import Path
from rag.config import Settings
from rag.service import build_pipeline
s = Settings(index_dir=Path(sys.argv[1]), cache_dir=Path(sys.argv[2]), _env_file=None)
p = build_pipeline(s, warm=True)
a = p.ask("How quickly does ketamine work?")
print(time.perf_counter() - t0)
"""


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    from rag.config import Settings
    from rag.embedding import make_embedder
    from rag.ingestion import build_index
    from rag.service import build_pipeline

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Ingest vs raw encode.
        embedder = make_embedder("packaged")
        embedder.embed(["warm up"])
        t = time.perf_counter()
        store, report = build_index(ROOT / "corpus", tmp / "index", embedder, rebuild=True)
        ingest_s = time.perf_counter() - t
        texts = [c.embed_text() for c in store.chunks]
        t = time.perf_counter()
        embedder.embed(texts)
        raw_s = time.perf_counter() - t
        rows.append(("ingest (whole corpus)", f"{ingest_s:.2f} s", f"raw encode {raw_s:.2f} s",
                     f"{ingest_s / raw_s:.2f}x"))
        rows.append(("ingest throughput", f"{len(texts) / ingest_s:.0f} chunks/s",
                     f"raw {len(texts) / raw_s:.0f} chunks/s", ""))

        # Cold start: a fresh process, without and with the converted-weights cache.
        cache = tmp / "cache"
        colds = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", COLD_START, str(tmp / "index"), str(cache)],
                                 capture_output=True, text=True, cwd=ROOT, check=True)
            colds.append(float(out.stdout.strip().splitlines()[-1]))
        rows.append(("cold start to first answer", f"{colds[1]:.1f} s (cached weights)",
                     f"{colds[0]:.1f} s (converting)", f"{colds[1] / colds[0]:.2f}x"))

        # Answer latency: full pipeline vs extractive-only, same questions.
        items = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").open()]
        questions = [i["question"] for i in items if i["category"] == "factual"][: args.questions]
        base = Settings(index_dir=tmp / "index", cache_dir=cache, _env_file=None)
        results = {}
        for name, settings in (("extractive only", base.with_overrides(generator="extractive")),
                               ("full pipeline (SmolLM2)", base)):
            pipeline = build_pipeline(settings, warm=True)
            pipeline.ask("warm up question about ketamine")
            first, total = [], []
            for q in questions:
                a = pipeline.ask(q)
                first.append(a.timings_ms["first_token"])
                total.append(a.timings_ms["total"])
            results[name] = (first, total)
        (fb, tb), (ff, tf) = results["extractive only"], results["full pipeline (SmolLM2)"]
        med = statistics.median
        rows.append(("first token, median", f"{med(ff):.0f} ms", f"extractive {med(fb):.0f} ms",
                     f"{med(ff) / med(fb):.1f}x"))
        rows.append(("first token, p95", f"{pct(ff, .95):.0f} ms", f"extractive {pct(fb, .95):.0f} ms", ""))
        rows.append(("finished answer, median", f"{med(tf):.0f} ms", f"extractive {med(tb):.0f} ms",
                     f"{med(tf) / med(tb):.1f}x"))
        rows.append(("finished answer, p95", f"{pct(tf, .95):.0f} ms", f"extractive {pct(tb, .95):.0f} ms", ""))
        rows.append(("peak resident memory", f"{rss_mb():.0f} MB", "", ""))

    print(f"| figure ({len(questions)} questions) | measured | baseline (same run) | ratio |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
