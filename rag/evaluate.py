"""Evaluation run: ``python -m rag.evaluate --questions eval/questions.jsonl --out eval/out``.

Answers every question in-process (one or several configurations side by side, ``--compare``)
or through a running server's REST API (``--url``), scores the answers without a language-model
judge (``rag.evaluation``), writes results.jsonl, metrics.json and the report (``rag.report``),
and with ``--gate`` exits non-zero when a metric falls below the thresholds kept in the repo.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .check_figures import check_figures, flat_figures
from .errors import RagError
from .evaluation import (
    EvaluationError,
    Item,
    Row,
    check,
    compute_metrics,
    describe,
    label_counts,
    load_labels,
    load_questions,
    load_thresholds,
    model_sentences,
    safety_set_figures,
    score_item,
    split_sentences,
)


@dataclass(frozen=True)
class Config:
    """A pipeline variant: settings overrides plus ``Pipeline`` keyword options."""

    description: str
    settings: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)


CONFIGS: dict[str, Config] = {
    "full": Config("the default pipeline: hybrid retrieval, safety gate, coverage check, SmolLM2, grounding"),
    "naive": Config("no safety gate, no refusals, no grounding: retrieve, prompt, print what the model says "
                    "(how most RAG demos work); it attaches no citations, so its [n] markers are scored "
                    "against the sources its prompt numbered", options={"guard": False}),
    "dense": Config("the full pipeline with dense (FAISS) retrieval only, no BM25",
                    options={"retrieval_mode": "dense"}),
    "bm25": Config("the full pipeline with BM25 retrieval only, no dense search", options={"retrieval_mode": "bm25"}),
    "extractive": Config("the full pipeline without a language model: answers are the article's own sentences",
                         settings={"generator": "extractive"}),
}
DEFAULT_THRESHOLDS = Path("eval") / "thresholds.json"
MODEL_SENTENCE_LABELS = Path("eval") / "model_sentences.jsonl"  # each model-written sentence, read and labelled


# --- answering ----------------------------------------------------------------------------------
def _error_result(message: str, elapsed_ms: float) -> dict:
    return {"answer": "", "status": "error", "citations": [], "timings_ms": {"total": elapsed_ms},
            "error": message}


def ask_pipeline(pipeline, item: Item) -> tuple[dict, list[tuple[str, int, int]]]:
    """The answer in the REST shape plus the retriever's hits (doc_id, start, end), best first."""
    t0 = time.perf_counter()
    try:
        result = pipeline.ask(item.question, list(item.history)).to_dict()
    except RagError as exc:  # bad input or a failing model: recorded, the run goes on
        result = _error_result(f"{type(exc).__name__}: {exc}", (time.perf_counter() - t0) * 1e3)
    retrieval = pipeline.retriever.search(item.question, list(item.history))
    if result["status"] == "answered" and not result["citations"]:
        result["citations"] = prompt_sources(pipeline, item, retrieval.hits, result["answer"])
    return result, [(h.chunk.doc_id, h.chunk.start, h.chunk.end) for h in retrieval.hits]


def prompt_sources(pipeline, item: Item, hits, answer: str) -> list[dict]:
    """The numbered sources the model was shown, as citations.

    The naive pipeline returns its model's text with ``[n]`` markers but no citations; scoring
    those markers against what the prompt called [n] measures what the model wrote, instead of
    counting every sentence unsupported merely because nothing was attached."""
    from .prompting import build_prompt

    prompt = build_prompt(item.question.strip(), hits, list(item.history), pipeline.settings.prompt_token_budget)
    documents = pipeline.store.documents
    cited = {n for _, ns in split_sentences(answer) for n in ns}
    return [{"n": n, "doc_id": h.chunk.doc_id, "title": documents[h.chunk.doc_id].title, "quote": h.chunk.text,
             "start": h.chunk.start, "end": h.chunk.end, "url": documents[h.chunk.doc_id].url,
             "from_prompt": True} for n, h in enumerate(prompt.sources, 1) if n in cited]


RETRY_STATUSES = (429, 503)  # the server's polite "not now": wait as long as Retry-After says, then ask again
MAX_POLITE_RETRIES = 5
MAX_RETRY_WAIT_S = 90.0


def ask_url(url: str, item: Item, timeout: float = 120.0, sleep=time.sleep) -> dict:
    """``POST {url}/api/ask``, waiting out rate limits and busy replies (``Retry-After``) a few times;
    other HTTP errors become ``status: error`` rows, an unreachable server stops the run."""
    t0 = time.perf_counter()
    for attempt in range(MAX_POLITE_RETRIES + 1):
        result, retry_after = _ask_once(url, item, timeout)
        if retry_after is None:
            return result
        if attempt < MAX_POLITE_RETRIES:
            sleep(min(retry_after, MAX_RETRY_WAIT_S))
    return _error_result(f"the server was still busy after {MAX_POLITE_RETRIES + 1} tries",
                         (time.perf_counter() - t0) * 1e3)


def _ask_once(url: str, item: Item, timeout: float) -> tuple[dict, float | None]:
    """The result row, and the seconds the server asked us to wait if it refused politely."""
    body = json.dumps({"question": item.question, "history": list(item.history)}).encode("utf-8")
    request = urllib.request.Request(url.rstrip("/") + "/api/ask", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            result = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        retry_after = exc.headers.get("Retry-After", "") if exc.headers else ""
        if exc.code in RETRY_STATUSES and retry_after.strip().isdigit():
            return {}, float(retry_after)
        try:
            message = json.loads(exc.read().decode("utf-8")).get("error", "")
        except (ValueError, AttributeError):
            message = ""
        return _error_result(f"HTTP {exc.code}: {message or exc.reason}", (time.perf_counter() - t0) * 1e3), None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):  # one slow answer is a result, not a dead server
            return _error_result(f"no reply within {timeout:.0f} s", (time.perf_counter() - t0) * 1e3), None
        raise EvaluationError(f"cannot reach {url}/api/ask ({reason}); is the app running (make run)?") from None
    except ValueError:
        return _error_result("the server's reply is not JSON", (time.perf_counter() - t0) * 1e3), None
    if not isinstance(result, dict) or "status" not in result:
        return _error_result("the server's reply lacks a status", (time.perf_counter() - t0) * 1e3), None
    result.setdefault("timings_ms", {})
    result["timings_ms"].setdefault("total", (time.perf_counter() - t0) * 1e3)
    result["client_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
    return result, None


def _progress(items: Sequence[Item], name: str) -> Iterator[Item]:
    from tqdm import tqdm

    yield from tqdm(items, desc=name, unit="q", file=sys.stderr, dynamic_ncols=True)


def run_config(name: str, items: Sequence[Item], answer: Callable[[Item], tuple[dict, list | None]],
               documents: Mapping[str, str], results, set_name: str | None = None) -> list[Row]:
    """Answer and score every item; each row is written to ``results`` as soon as it is scored."""
    rows = []
    for item in _progress(items, name):
        result, hits = answer(item)
        row = Row(item, result, score_item(item, result, documents, hits))
        rows.append(row)
        record = {"config": name.split(":")[0], **({"set": set_name} if set_name else {}), "id": item.id,
                  "category": item.category, "question": item.question,
                  "expected_status": item.expected_status, **result, "retrieved": hits, "scores": row.scores}
        results.write(json.dumps(record, ensure_ascii=False) + "\n")
        results.flush()
    return rows


# --- the command --------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    names = ", ".join(f"{k} ({c.description})" for k, c in CONFIGS.items())
    parser = argparse.ArgumentParser(prog="python -m rag.evaluate", description=__doc__.split("\n\n")[0],
                                     epilog=f"configurations: {names}")
    parser.add_argument("--questions", type=Path, required=True, help="question set (JSONL, see the design notes)")
    parser.add_argument("--also", type=Path, action="append", default=[], metavar="QUESTIONS",
                        help="another question set answered by the gated configuration and reported beside the main "
                             "one (repeatable); its metrics are named sets.<name>.*, e.g. "
                             "sets.fresh_test.status_accuracy")
    parser.add_argument("--out", type=Path, required=True, help="folder for results.jsonl, metrics.json, report.*")
    parser.add_argument("--compare", default="full", help="comma-separated configurations (default: full)")
    parser.add_argument("--url", help="evaluate a running server through POST {url}/api/ask instead")
    parser.add_argument("--gate", type=Path, help="thresholds file; exit 1 when a gate threshold is not met")
    parser.add_argument("--targets", type=Path, help=f"thresholds file whose targets the report checks "
                                                     f"(default: the --gate file, else {DEFAULT_THRESHOLDS})")
    parser.add_argument("--limit", type=int, help="only the first N questions (a quick look)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per question with --url")
    parser.add_argument("--rescore", type=Path, metavar="RESULTS_JSONL",
                        help="score the answers of an earlier run again instead of asking (metrics or thresholds "
                             "changed)")
    parser.add_argument("--checks", choices=("full", "quick", "none"), default="full",
                        help="also measure the crisis detectors and the claim check on their frozen test files: "
                             "full (with leave-one-category-out, about a minute), quick (without it), none")
    parser.add_argument("--first-sentence-budget", type=float, default=0.0, metavar="SECONDS",
                        help="seconds the model has to write its first supported sentence before the quotes go out "
                             "(default 0: none, so the answers and their figures do not depend on how fast or busy "
                             "the machine is; the product's budget is a latency policy, measured in bench/)")
    args = parser.parse_args(argv)
    if args.first_sentence_budget < 0:
        parser.error("--first-sentence-budget must be 0 (none) or more")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    args.configs = [c.strip() for c in args.compare.split(",") if c.strip()]
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown or not args.configs:
        parser.error(f"unknown configuration(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(CONFIGS)}")
    if args.url and args.compare != "full":
        parser.error("--compare builds pipelines in-process; with --url the server's own configuration is evaluated")
    return args


def main(argv: Sequence[str] | None = None, *, settings=None, build: Callable | None = None) -> int:
    """Exit status: 0 done (gate passed), 1 gate failed, 2 the run could not be made.

    ``settings`` and ``build`` (``build(settings, **options) -> Pipeline``) let tests run with fakes."""
    args = parse_args(argv)
    try:
        return _main(args, settings, build)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def set_name(path: Path) -> str:
    """eval/fresh/test.jsonl ▶ "fresh_test": the name its metrics go under (sets.<name>.*)."""
    path = Path(path)
    return re.sub(r"\W+", "_", f"{path.parent.name}_{path.stem}" if path.parent.name not in ("", ".", "eval")
                  else path.stem).strip("_")


def _other_sets(name: str, answer: Callable[[Item], tuple[dict, list | None]], documents, results,
                sets: Mapping[str, Sequence[Item]]) -> dict:
    """The gated configuration's answers and metrics on each further question set."""
    out = {}
    for set_, items in sets.items():
        rows = run_config(f"{name}:{set_}", items, answer, documents, results, set_name=set_)
        out[set_] = (rows, compute_metrics(rows))
    return out


def _answer(args: argparse.Namespace, items: Sequence[Item], settings, build: Callable | None, results,
            sets: Mapping[str, Sequence[Item]] = {}) -> list:  # noqa: B006 - read only
    """Ask every question of every configuration (or of the server)."""
    from .report import Run

    if args.url:
        from .documents import load_corpus

        documents = {d.doc_id: d.text for d in load_corpus(settings.corpus_dir)}

        def ask(it):
            return ask_url(args.url, it, args.timeout), None

        rows = run_config("server", items, ask, documents, results)
        run = Run("server", f"the server at {args.url}", rows, compute_metrics(rows))
        run.extra["sets"] = _other_sets("server", ask, documents, results, sets)
        return [run]
    if build is None:
        from .service import build_pipeline as build
    runs = []
    for name in args.configs:
        config = CONFIGS[name]
        print(f"building `{name}`: {config.description}", file=sys.stderr)
        pipeline = build(settings.with_overrides(**config.settings), warm=True, **config.options)
        documents = {doc_id: d.text for doc_id, d in pipeline.store.documents.items()}
        rows = run_config(name, items, lambda it, p=pipeline: ask_pipeline(p, it), documents, results)
        runs.append(Run(name, config.description, rows, compute_metrics(rows)))
        if name == _gated_name(args.configs):
            runs[-1].extra["sets"] = _other_sets(name, lambda it, p=pipeline: ask_pipeline(p, it), documents,
                                                 results, sets)
        del pipeline  # one model in memory at a time
        gc.collect()
    return runs


def _gated_name(configs: Sequence[str]) -> str:
    return "full" if "full" in configs else configs[0]


def code_version() -> str | None:
    """The commit the answers came from (with "+changes" when files were edited), so numbers can be
    traced to code; None outside a git checkout."""
    import subprocess

    from .config import ROOT

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+changes" if dirty else "")


def _read_results(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"cannot read earlier results {path}: {exc}") from None


def _rescore(records: Sequence[dict], items: Sequence[Item], settings, results,
             sets: Mapping[str, Sequence[Item]] = {}) -> list:  # noqa: B006 - read only
    """Score the answers of an earlier run again (new metrics, new thresholds) without asking again."""
    from .documents import load_corpus
    from .report import Run

    by_id = {None: {i.id: i for i in items}, **{name: {i.id: i for i in its} for name, its in sets.items()}}
    documents = {d.doc_id: d.text for d in load_corpus(settings.corpus_dir)}
    grouped: dict[tuple[str, str | None], list[Row]] = {}
    for record in records:
        item = by_id.get(record.get("set"), {}).get(record.get("id"))
        if item is None:
            continue  # not in this question set (or cut by --limit)
        result = {k: record[k] for k in ("answer", "status", "citations", "timings_ms", "notice", "reason", "mode",
                                          "error", "client_ms") if k in record}
        hits = [tuple(h) for h in record["retrieved"]] if record.get("retrieved") is not None else None
        row = Row(item, result, score_item(item, result, documents, hits))
        grouped.setdefault((record.get("config", "server"), record.get("set")), []).append(row)
        results.write(json.dumps({**record, "scores": row.scores}, ensure_ascii=False) + "\n")
    runs = {name: Run(name, CONFIGS[name].description if name in CONFIGS else name, rows, compute_metrics(rows))
            for (name, set_), rows in grouped.items() if set_ is None}
    if not runs:
        raise EvaluationError("the earlier results hold no answer to any question of this question set")
    for (name, set_), rows in grouped.items():
        if set_ is not None and name in runs:
            runs[name].extra.setdefault("sets", {})[set_] = (rows, compute_metrics(rows))
    return list(runs.values())


def _check_figures(settings, depth: str) -> dict:
    """The crisis detectors and the claim check on their frozen test files (see rag.check_figures)."""
    from .embedding import make_embedder

    try:
        embedder = make_embedder(settings.embedder)
    except Exception as exc:  # noqa: BLE001 - the claim figures need no model; report the rest
        print(f"crisis detector figures skipped: the embedder did not load ({exc})", file=sys.stderr)
        embedder = None
    return check_figures(embedder, settings.cache_dir, leave_one_out=depth == "full")


def _main(args: argparse.Namespace, settings, build: Callable | None) -> int:
    from .config import ROOT, Settings
    from .report import write_reports

    items = load_questions(args.questions)[: args.limit]
    sets = {set_name(p): load_questions(p)[: args.limit] for p in args.also}
    thresholds_path = args.targets or args.gate or ROOT / DEFAULT_THRESHOLDS
    thresholds = load_thresholds(thresholds_path) if (args.gate or args.targets or thresholds_path.is_file()) else {}
    settings = (settings or Settings()).with_overrides(first_sentence_budget_s=args.first_sentence_budget)
    earlier = _read_results(args.rescore) if args.rescore else None  # read before results.jsonl is rewritten
    code = "that of the earlier run" if earlier is not None else code_version()  # before a long run
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "results.jsonl", "w", encoding="utf-8") as results:
        if earlier is not None:
            runs = _rescore(earlier, items, settings, results, sets)
        else:
            runs = _answer(args, items, settings, build, results, sets)

    gated = next((r for r in runs if r.name == "full"), runs[0])
    figures = _check_figures(settings, args.checks) if args.checks != "none" else {}
    gated.metrics["checks"] = flat_figures(figures)
    gated.metrics["sets"] = {name: m for name, (_, m) in gated.extra.get("sets", {}).items()}
    written = model_sentences(list(gated.rows) + [r for rows, _ in gated.extra.get("sets", {}).values() for r in rows])
    labels = load_labels(ROOT / MODEL_SENTENCE_LABELS)
    gated.metrics["model_sentences"] = label_counts(written, labels)
    gated.extra["model_sentences"] = [{**s, **{k: v for k, v in labels.get(s["sentence"], {}).items()
                                             if k in ("label", "note")}} for s in written]
    targets = check(gated.metrics, thresholds.get("targets", {}))
    gate = check(gated.metrics, load_thresholds(args.gate).get("gate", {})) if args.gate else []
    meta = {"questions": args.questions.name, "n_items": len(items), "gated": gated.name,
            "source": f"server {args.url}" if args.url else "in-process" + (" (re-scored)" if args.rescore else ""),
            "first_sentence_budget_s": None if args.url else args.first_sentence_budget,
            "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "code": code,
            "safety_sets": safety_set_figures(ROOT / "tests" / "data" / "safety"), "checks": figures}
    metrics = {"meta": meta, "configs": {r.name: {"description": r.description, **r.metrics} for r in runs},
               "targets": targets, "gate": gate}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_reports(args.out, runs, meta, targets, gate)
    print(f"wrote results.jsonl, metrics.json, report.md, report.html, comparison.md to {args.out}")
    missed = [describe(t) for t in targets if not t["ok"]]
    if missed:
        print(f"targets not reached by `{gated.name}`: " + "; ".join(missed))
    failed = [describe(g) for g in gate if not g["ok"]]
    if failed:
        print(f"GATE FAILED for `{gated.name}` ({args.gate}):\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    if args.gate:
        print(f"gate passed: {len(gate)} thresholds met by `{gated.name}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
