"""The meaning-level claim check: is a sentence supported by a source passage?

``verify(claim, source)`` is what the grounding check (``rag.grounding.check_support``) and
``python -m rag verify`` use; ``benchmark`` measures it on ``eval/claims/``.
"""

from .checker import Check, verify

__all__ = ["Check", "verify"]
