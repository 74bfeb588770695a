"""Build or update the search index from the corpus folder.

    python ingest.py                 # incremental: only new or changed text is embedded
    python ingest.py --rebuild       # embed everything again
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="folder of .txt/.md/.html/.pdf documents (default: corpus/)")
    parser.add_argument("--index", type=Path, help="where the index is written (default: index/)")
    parser.add_argument("--rebuild", action="store_true", help="ignore the existing index and embed everything")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from rag.config import Settings
    from rag.embedding import make_embedder
    from rag.errors import RagError
    from rag.ingestion import build_index

    settings = Settings().with_overrides(corpus_dir=args.corpus, index_dir=args.index)
    try:
        embedder = make_embedder(settings.embedder)
        _, report = build_index(settings.corpus_dir, settings.index_dir, embedder,
                                settings.chunk_max_chars, rebuild=args.rebuild, progress=not args.quiet)
    except RagError as exc:
        print(f"ingest failed: {exc}", file=sys.stderr)
        return 2
    state = "index updated" if report.changed else "index up to date"
    print(f"{state}: {report.summary()} -> {settings.index_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
