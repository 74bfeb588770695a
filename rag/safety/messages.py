"""Every scripted text a patient can see, read from ``rag/messages.toml`` and filled in once.

The texts live in a data file, not in code, so clinic staff can review and translate them
without touching Python; a missing text or a stray placeholder stops the start-up, because a
half-filled crisis message is worse than a failed start.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

__all__ = ["MESSAGES_FILE", "Messages", "default_messages"]

MESSAGES_FILE = Path(__file__).resolve().parent.parent / "messages.toml"
DEFAULT_CONTEXT = {"clinic_name": "the clinic", "contact": "psychiatristdrakhildhanda.com"}


@dataclass(frozen=True)
class Messages:
    """Every scripted text a patient can see, with placeholders already filled."""

    crisis_reply: str
    crisis_footer: str
    decline_medical_advice: str
    decline_offtopic: str
    small_talk: str
    decline_injection: str
    decline_controlled_substance: str
    not_found: str
    disclaimer: str
    other_language: str
    other_language_answer: str
    generation_failed: str

    @classmethod
    def load(cls, path: str | Path | None = None, **context: str | None) -> Messages:
        """Read the messages file and fill ``{clinic_name}``, ``{contact}``, ``{crisis_lines}``.

        ``path`` None reads the packaged ``rag/messages.toml``; a translated copy can be passed
        instead. ``crisis_lines`` defaults to ``[defaults].crisis_lines`` of that file; a caller
        may pass its own (for another country). Extra keyword arguments become extra
        placeholders. Fails loudly on a missing key or an unknown placeholder, because a
        half-filled crisis message is worse than a failed start.
        """
        path = Path(path) if path is not None else MESSAGES_FILE
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"messages file {path} not found; point messages_file at a copy "
                                    f"of {MESSAGES_FILE}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML ({exc}); fix the file or restore it from git") from None
        texts = data.get("messages", {})
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if not isinstance(texts.get(n), str) or not texts[n].strip()]
        if missing:
            raise ValueError(f"{path} lacks [messages] {', '.join(missing)}; add them (see {MESSAGES_FILE})")

        ctx = {**DEFAULT_CONTEXT, **{k: v for k, v in context.items() if v is not None}}
        custom_lines = ctx.pop("crisis_lines", None)
        if custom_lines is None:
            default_lines = data.get("defaults", {}).get("crisis_lines")
            if not isinstance(default_lines, str):
                raise ValueError(f"{path} lacks [defaults] crisis_lines; add it or pass crisis_lines=...")
            ctx["crisis_lines"] = _fill(default_lines.strip(), ctx, path, "defaults.crisis_lines")
        else:
            # A caller's text is taken as is, apart from the two simple placeholders: it may
            # contain braces of its own, so it is never run through str.format.
            ctx["crisis_lines"] = (str(custom_lines).strip().replace("{clinic_name}", ctx["clinic_name"])
                                   .replace("{contact}", ctx["contact"]))
        return cls(**{n: _fill(texts[n].strip(), ctx, path, n) for n in names})


def _fill(template: str, ctx: Mapping[str, str], path: Path, key: str) -> str:
    try:
        return template.format_map(ctx)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{path}: {key} uses an unknown placeholder or a stray brace ({exc}); "
                         f"use only {{{'}, {'.join(sorted(ctx))}}} (write {{{{ for a literal brace)") from None


@lru_cache(maxsize=1)
def default_messages() -> Messages:
    """The packaged texts with the default clinic details (for callers without settings)."""
    return Messages.load()
