"""Content gaps: which questions the clinic's articles do not answer, and how often.

Off unless the clinic sets ``gap_file``. Only the question text and the day are kept, never
who asked, so the clinic can see what articles patients are missing without holding
anything that identifies them.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from pathlib import Path

_lock = threading.Lock()


def record_gap(path: Path, question: str) -> None:
    """Append one uncovered question (text and day only)."""
    line = json.dumps({"day": time.strftime("%Y-%m-%d"), "question": question}, ensure_ascii=False)
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def _key(question: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", question.lower()))


def gap_report(path: Path, top: int = 30) -> str:
    """Markdown: the most asked uncovered questions, most frequent first."""
    if not path.exists():
        return f"No content-gap file at {path}: set CLINIC_GAP_FILE to start collecting.\n"
    counts: Counter[str] = Counter()
    example: dict[str, str] = {}
    days: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(raw)
        except json.JSONDecodeError:
            continue
        key = _key(item.get("question", ""))
        if key:
            counts[key] += 1
            example.setdefault(key, item["question"].strip())
            days.add(item.get("day", ""))
    lines = [f"# Questions the articles do not cover ({sum(counts.values())} asked, "
             f"{len(counts)} distinct, {len(days)} days)", "", "| times | question |", "| ---: | --- |"]
    for key, n in counts.most_common(top):
        lines.append(f"| {n} | {example[key].replace('|', '/')} |")
    return "\n".join(lines) + "\n"
