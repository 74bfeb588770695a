"""Command line: ``python -m rag ask [--json] "question" ...``, ``python -m rag verify --jsonl FILE``,
``python -m rag gaps``, ``python -m rag train-crisis-encoder`` and ``python -m rag train-answer-scorer``."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Ask the clinic assistant from a shell.")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one or more questions")
    ask.add_argument("questions", nargs="+")
    ask.add_argument("--json", action="store_true", help="one JSON object per question, in the REST answer shape")
    ask.add_argument("--generator", help="smollm2 | extractive | a local model folder")
    gaps = sub.add_parser("gaps", help="report the questions the articles did not cover (needs CLINIC_GAP_FILE)")
    gaps.add_argument("--file", help="the content-gap file (default: the CLINIC_GAP_FILE setting)")
    check = sub.add_parser("verify", help="check claims against sources with the grounding check, one JSON line each")
    check.add_argument("--jsonl", required=True,
                       help='a file of lines {"claim": "...", "source": "..."}, or - for standard input')
    train = sub.add_parser("train-crisis-encoder", help="fine-tune the crisis encoder (make crisis-model)")
    train.add_argument("--cache-dir", help="where to save it (default: the cache_dir setting)")
    train.add_argument("--force", action="store_true", help="train again even if it exists")
    answers = sub.add_parser("train-answer-scorer",
                             help="fine-tune the scorer of whether a sentence answers a question (make answer-model)")
    answers.add_argument("--cache-dir", help="where to save it (default: the cache_dir setting)")
    answers.add_argument("--force", action="store_true", help="train again even if it exists")
    args = parser.parse_args(argv)
    if args.command in ("train-crisis-encoder", "train-answer-scorer"):
        from pathlib import Path

        from .config import Settings

        if args.command == "train-crisis-encoder":
            from .safety.encoder import ensure_trained
        else:
            from .answer_scorer import ensure_trained
        ensure_trained(Path(args.cache_dir) if args.cache_dir else Settings().cache_dir, force=args.force)
        return 0
    if args.command == "verify":
        return _verify(args.jsonl)
    if args.command == "gaps":
        from pathlib import Path

        from .config import Settings
        from .gaps import gap_report

        path = Path(args.file) if args.file else Settings().gap_file
        if path is None:
            print("Content-gap collection is off: set CLINIC_GAP_FILE to a file path to start it.")
            return 0
        print(gap_report(path), end="")
        return 0

    from .config import Settings
    from .errors import RagError
    from .service import build_pipeline

    settings = Settings().with_overrides(generator=args.generator)
    try:
        pipeline = build_pipeline(settings)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for question in args.questions:
        try:
            answer = pipeline.ask(question)
        except RagError as exc:
            print(json.dumps({"error": str(exc)}) if args.json else f"error: {exc}")
            status = 1
            continue
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            said = f"{answer.status}, {answer.mode}" if answer.mode else answer.status
            print(f"Q: {question}\n[{said}] {answer.answer}")
            if answer.reason:
                print(f"  (why: {answer.reason})")
            for c in answer.citations:
                print(f"  [{c.n}] “{c.quote}” ({c.title}, chars {c.start}-{c.end})")
            print()
    return status


def _verify(path: str) -> int:
    """One ``{"supported", "reason", ...}`` line per input line; a bad line gets an ``error``
    line and exit status 1, and the others are still checked."""
    from .verify import verify

    try:
        lines = sys.stdin.read().splitlines() if path == "-" else open(path, encoding="utf-8").read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    status = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            claim, source = row["claim"], row["source"]
            if not isinstance(claim, str) or not isinstance(source, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            print(json.dumps({"line": n, "error": 'expected {"claim": "...", "source": "..."} with text values'}))
            status = 1
            continue
        result = verify(claim, source)
        out = {"line": n, "supported": result.supported, "reason": result.reason}
        if result.span is not None:
            out["evidence"] = source[result.span[0]:result.span[1]]
        if "supported" in row:
            out["expected"] = row["supported"]
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
