"""Retrieval at scale: exact (flat) vs approximate FAISS indexes on synthetic corpora.

The clinic's corpus is tiny; this shows where exact search stops being fast enough and what
an approximate index costs in recall. Vectors are 384-d unit vectors (MiniLM's size) drawn
around a few thousand topic centres, so neighbours are meaningful, and queries are
perturbed corpus vectors. Recall@10 is measured against exact search on the same vectors.

    python -m bench.bench_retrieval [--sizes 10000,100000,1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bench.common import median, table

DIM = 384
K = 10
TIMED = 50  # queries timed one by one (exact search over 1M vectors takes a while each)
THREADS = os.cpu_count() or 1


def synthetic(n: int, rng: np.random.Generator, centres: int = 2000, batch: int = 100_000) -> np.ndarray:
    """n unit vectors around random topic centres (built in batches to bound memory)."""
    mu = rng.standard_normal((centres, DIM), dtype=np.float32)
    out = np.empty((n, DIM), np.float32)
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        v = mu[rng.integers(0, centres, hi - lo)] + 0.9 * rng.standard_normal((hi - lo, DIM), dtype=np.float32)
        out[lo:hi] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def queries_near(vectors: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    q = vectors[rng.integers(0, len(vectors), n)] + 0.3 * rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def index_kinds(n: int, max_hnsw: int):
    """(name, factory) of each index measured at this size."""
    import faiss

    from rag.index_store import ivf_lists, nprobe

    def flat():
        return faiss.IndexFlatIP(DIM)

    def hnsw():
        index = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction, index.hnsw.efSearch = 80, 64
        return index

    def ivf():
        lists = ivf_lists(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, lists, faiss.METRIC_INNER_PRODUCT)
        index.nprobe = nprobe(lists)
        return index

    kinds = [("flat (exact)", flat), (f"IVF{ivf_lists(n)},Flat", ivf)]
    if n <= max_hnsw:
        kinds.append(("HNSW32", hnsw))
    return kinds


def measure(name, factory, vectors, queries, truth, rng) -> list:
    import faiss

    t = time.perf_counter()
    index = factory()
    if not index.is_trained:
        sample = vectors[rng.choice(len(vectors), min(len(vectors), 40 * index.nlist), replace=False)]
        index.train(sample)
    index.add(vectors)
    build = time.perf_counter() - t
    memory_mb = faiss.serialize_index(index).nbytes / 2**20
    index.search(queries[:5], K)  # warm up
    per_query = []
    faiss.omp_set_num_threads(1)  # as the app searches: one query at a time, one thread
    for q in queries[:TIMED]:
        t = time.perf_counter()
        _, ids = index.search(q[None, :], K)
        per_query.append((time.perf_counter() - t) * 1e3)
    faiss.omp_set_num_threads(THREADS)
    _, found = index.search(queries, K)
    recall = np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)])
    return [name, f"{build:.1f} s", f"{memory_mb:.0f} MB", f"{median(per_query):.2f} ms", f"{recall:.3f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--max-hnsw", type=int, default=10_000,
                        help="largest size to build HNSW at (its build is the slow one on 2 cores)")
    args = parser.parse_args()
    import faiss

    from rag.index_store import index_kind

    rng = np.random.default_rng(0)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        vectors = synthetic(n, rng)
        queries = queries_near(vectors, args.queries, rng)
        exact = faiss.IndexFlatIP(DIM)
        exact.add(vectors)
        _, truth = exact.search(queries, K)
        del exact
        flat_ms = None
        for name, factory in index_kinds(n, args.max_hnsw):
            row = measure(name, factory, vectors, queries, truth, rng)
            ms = float(row[3].split()[0])
            flat_ms = flat_ms or ms
            rows.append([f"{n:,}", *row, f"{ms / flat_ms:.2f}x"])
        if n > args.max_hnsw:
            rows.append([f"{n:,}", "HNSW32", "skipped", "", "", "", ""])
        del vectors
    print("## Retrieval at scale (synthetic 384-d vectors, top-10, one query at a time)\n")
    print(table(["chunks", "index", "build", "size", "search median", "recall@10", "vs flat"], rows))
    print(f"\nHNSW is built only up to {args.max_hnsw:,} chunks (`--max-hnsw`): its build is the slow one "
          "on 2 cores, and the bench must stay short.")
    print(f"\nThe app picks the index by size (`rag/index_store.py`): "
          f"{', '.join(f'{n:,} ▶ {index_kind(n)}' for n in (20_000, 200_000, 2_000_000))}.")


if __name__ == "__main__":
    main()
