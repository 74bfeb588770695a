"""End to end: ingest, cold start, memory, and answer latency over the project's question set.

Each figure comes with a baseline measured in the same run:
- ingest vs the raw sentence-transformers encode of the same chunk texts (pipeline overhead);
- cold start (fresh process to first answer) without vs with the cached converted weights;
- the full pipeline vs the extractive-only pipeline (no language model) on the same questions,
  and vs the full pipeline without the first-sentence budget (waiting for the model's whole reply).

    python -m bench.bench_pipeline [--questions N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, median, pct, table

# A fresh process: build the app's pipeline, answer one question, report time and peak memory.
COLD_START = """
import time, sys
t0 = time.perf_counter()
from pathlib import Path
from rag.config import Settings
from rag.service import build_pipeline
s = Settings(index_dir=Path(sys.argv[1]), cache_dir=Path(sys.argv[2]), _env_file=None)
p = build_pipeline(s, warm=True)
a = p.ask("How quickly does ketamine work?")
took = time.perf_counter() - t0
from bench.common import peak_rss_mb
print(took, peak_rss_mb())
"""

MODEL_CATEGORIES = ("factual", "followup")  # the questions the language model answers


def ingest_rows(tmp: Path) -> list[list[str]]:
    from rag.embedding import make_embedder
    from rag.ingestion import build_index

    embedder = make_embedder("packaged")
    embedder.embed(["warm up"])
    t = time.perf_counter()
    store, _ = build_index(ROOT / "corpus", tmp / "index", embedder, rebuild=True)
    ingest_s = time.perf_counter() - t
    texts = [c.embed_text() for c in store.chunks]
    t = time.perf_counter()
    embedder.embed(texts)
    raw_s = time.perf_counter() - t
    n = len(texts)
    return [[f"ingest, whole corpus ({n} chunks)", f"{ingest_s:.2f} s", f"raw encode {raw_s:.2f} s",
             f"{ingest_s / raw_s:.2f}x"],
            ["ingest throughput", f"{n / ingest_s:.0f} chunks/s", f"raw encode {n / raw_s:.0f} chunks/s",
             f"{raw_s / ingest_s:.2f}x"]]


def cold_start_rows(tmp: Path) -> list[list[str]]:
    cache = tmp / "cache"
    runs = []
    for _ in range(2):  # the first converts the GGUF into the empty cache, the second loads it
        out = subprocess.run([sys.executable, "-c", COLD_START, str(tmp / "index"), str(cache)],
                             capture_output=True, text=True, cwd=ROOT, check=True)
        took, rss = out.stdout.strip().splitlines()[-1].split()
        runs.append((float(took), float(rss)))
    (convert_s, _), (cached_s, rss_mb) = runs
    return [["cold start, process start to first answer", f"{cached_s:.1f} s (cached weights)",
             f"{convert_s:.1f} s (converting the GGUF)", f"{cached_s / convert_s:.2f}x"],
            ["peak resident memory of that process (the app's models + index)", f"{rss_mb:.0f} MB", "", ""]]


def latency_rows(tmp: Path, limit: int | None) -> tuple[list[list[str]], int]:
    from rag.config import Settings
    from rag.evaluation import load_questions
    from rag.service import build_pipeline

    items = [i for i in load_questions(ROOT / "eval" / "questions.jsonl") if i.category in MODEL_CATEGORIES]
    items = items[:limit] if limit else items
    base = Settings(index_dir=tmp / "index", cache_dir=tmp / "cache", _env_file=None)
    results = {}
    configs = (("extractive", base.with_overrides(generator="extractive")), ("full", base),
               ("no budget", base.with_overrides(first_sentence_budget_s=0.0)))
    for name, settings in configs:
        pipeline = build_pipeline(settings, warm=True)
        pipeline.ask("How quickly does ketamine work?")  # warm up (first-call costs, prefix cache)
        first, total = [], []
        for item in items:
            t0 = time.perf_counter()
            for event in pipeline.stream(item.question, list(item.history)):
                if event.kind == "token" and len(first) == len(total):
                    first.append((time.perf_counter() - t0) * 1e3)
            total.append((time.perf_counter() - t0) * 1e3)
            if len(first) < len(total):  # no text (cannot happen for answered items; keeps lists aligned)
                first.append(total[-1])
        results[name] = (first, total)
    rows = []
    (fb, tb), (ff, tf), (fn, tn) = results["extractive"], results["full"], results["no budget"]
    for label, full, extr, unbounded in (("first streamed text", ff, fb, fn), ("finished grounded answer", tf, tb, tn)):
        for name, stat in (("p50", median), ("p95", lambda v: pct(v, .95))):
            rows.append([f"question to {label}, {name}", f"{stat(full):.0f} ms",
                         f"extractive {stat(extr):.0f} ms", f"{stat(full) / stat(extr):.1f}x"])
            rows.append([f"question to {label}, {name}", f"{stat(full):.0f} ms",
                         f"no first-sentence budget {stat(unbounded):.0f} ms", f"{stat(full) / stat(unbounded):.2f}x"])
    return rows, len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=None,
                        help="at most this many of the set's answerable questions (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = ingest_rows(tmp)
        rows += cold_start_rows(tmp)
        latency, n = latency_rows(tmp, args.questions)
    print(f"## End to end (full pipeline with SmolLM2 vs extractive-only and vs no first-sentence budget; "
          f"latency over the {n} answerable questions of eval/questions.jsonl, as streamed)\n")
    print(table(["figure", "measured", "baseline (same run)", "ratio"], rows + latency))


if __name__ == "__main__":
    main()
