"""Wires the parts: safety gate ▶ retrieval ▶ answerability ▶ prompt ▶ model ▶ grounding.

``stream`` yields events as the answer is built; ``ask`` runs the same stream to the end.
Sentences are released only after they pass the grounding check, so a patient never sees
a word the sources do not support, even while the answer is still streaming.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from .answer_scorer import load_answer_scorer
from .clauses import candidates as clause_candidates
from .clauses import strip_label
from .coverage import Answerability, defining_first, question_parts
from .deadline import within_deadline
from .embedding import Embedder
from .errors import GenerationError, InputError
from .gaps import record_gap
from .generation import Generator
from .grounding import (
    MAX_SENTENCES,
    Claim,
    Grounder,
    Scored,
    extractive,
    rank_sentences,
    relevance,
    sentence_hubness,
    split_answer,
)
from .index_store import IndexStore
from .prompting import build_prompt, sentence_prompt
from .retrieval import Retriever
from .safety import CrisisClassifier, Messages, SafetyGate, crisis_rules_fire, small_talk
from .types import LANGUAGE, SMALL_TALK, Answer, Citation

log = logging.getLogger("rag.pipeline")
MAX_DROPPED = 2  # unsupported sentences after which the rest of the reply is not awaited
QUOTE_MARGIN = 0.12  # a sentence this far below the best still goes into a quoted answer
SCORED_QUOTE_MARGIN = 0.2  # the same, when the answer scorer ordered the evidence (chosen on the tuning sets)
RELEVANCE_MARGIN = 0.15  # a generated claim may score this much below the best sentence
SENTENCE_END = re.compile(r"[.!?][\"”’')]*$")  # a finished sentence, closing quote or bracket allowed


@dataclass(frozen=True)
class Event:
    """One step of a streamed answer: ``token`` (text), ``citations`` (list), ``done`` (Answer),
    or ``error`` (a message fit for a patient)."""

    kind: str
    data: object


def _blank(char: str) -> bool:
    """Whitespace or a control character: what the API schema's ``[^\\s\\u0000-\\u001f\\u007f-\\u009f]``
    pattern calls nothing (JSON Schema's ``\\s`` and Python's ``isspace`` differ at the edges)."""
    return char.isspace() or ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F or char == "\ufeff"


def validate(question: object, history: object, max_chars: int, max_turns: int) -> tuple[str, list[dict]]:
    """Check types and limits; return the cleaned question and the usable history."""
    if not isinstance(question, str):
        raise InputError("question must be a string")
    question = question.replace("\x00", "").strip()
    if all(_blank(c) for c in question):
        raise InputError("question is empty; type a question about the clinic's articles")
    if len(question) > max_chars:
        raise InputError(f"question is too long ({len(question)} characters); the limit is {max_chars}")
    if history is None:
        history = []
    if not isinstance(history, list):
        raise InputError("history must be a list of {role, content} objects")
    turns = []
    for turn in history:
        if not isinstance(turn, Mapping) or turn.get("role") not in ("user", "assistant") \
                or not isinstance(turn.get("content"), str):
            raise InputError('each history item must be {"role": "user"|"assistant", "content": string}')
        turns.append({"role": turn["role"], "content": turn["content"][: max_chars * 4]})
    return question, turns[-2 * max_turns :]


def _why(reason: str, foreign: str | None) -> str:
    """A refusal's reason; for a message not in English, that first (its reply says so, with the
    crisis lines, in place of "the articles don't cover this")."""
    return f"{LANGUAGE}; {reason}" if foreign else reason


class Pipeline:
    def __init__(self, settings, store: IndexStore, embedder: Embedder, generator: Generator | None,
                 messages: Messages | None = None, retrieval_mode: str = "hybrid", guard: bool = True):
        self.settings, self.store, self.embedder, self.generator = settings, store, embedder, generator
        self.guard = guard  # False gives the naive baseline: no safety gate, no refusals, no grounding
        self.messages = messages or Messages.load(
            settings.messages_file, clinic_name=settings.clinic_name, contact=settings.contact,
            **({"crisis_lines": settings.crisis_lines} if settings.crisis_lines else {}))
        self.retriever = Retriever(store, embedder, top_k=settings.top_k, candidates=settings.candidates,
                                   rrf_k=settings.rrf_k, min_dense_score=settings.min_dense_score,
                                   min_lexical_score=settings.min_lexical_score,
                                   mode=retrieval_mode)
        self.answerability = Answerability([d.text for d in store.documents.values()], embedder,
                                           min_support=settings.min_support,
                                           scorer=load_answer_scorer(settings) if guard else None,
                                           answer_threshold=settings.answer_threshold)
        self.titles = {d.doc_id: d.title for d in store.documents.values()}  # not read as section headings
        self.hubness = sentence_hubness(store.chunks, embedder.embed)  # framing sentences rank lower
        self.gate = SafetyGate(self.messages, self._crisis_classifier() if guard else None)

    def _crisis_classifier(self) -> CrisisClassifier | None:
        """The learned crisis detector beside the rules; if it cannot be trained, the rules stand alone."""
        if not self.settings.crisis_classifier:
            return None
        try:
            return CrisisClassifier.fit(self.embedder, cache_dir=self.settings.cache_dir, rules=crisis_rules_fire,
                                        use_encoder=self.settings.crisis_encoder)
        except Exception:  # noqa: BLE001 - the gate must start, with the rules, whatever happens here
            log.exception("crisis classifier could not be trained; the rules alone detect crises")
            return None

    # --- public API ---------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[Mapping[str, str]] | None = None) -> Answer:
        answer = None
        for event in self.stream(question, history):
            if event.kind == "done":
                answer = event.data
        assert answer is not None
        return answer

    def stream(self, question: str, history: Sequence[Mapping[str, str]] | None = None) -> Iterator[Event]:
        """Events of one answer. Raises InputError (before any event) for unusable input."""
        question, history = validate(question, history, self.settings.max_question_chars,
                                     self.settings.max_history_turns)
        return self._stream(question, history)

    # --- the flow -----------------------------------------------------------------------
    def _stream(self, question: str, history: list[dict]) -> Iterator[Event]:
        request_id = uuid.uuid4().hex[:8]
        t0 = time.perf_counter()
        timings: dict[str, float] = {}

        def finish(answer: Answer) -> Iterator[Event]:
            now = (time.perf_counter() - t0) * 1e3
            timings["total"] = now
            streamed = "first_token" in timings
            timings.setdefault("first_token", now)
            answer.timings_ms = dict(timings)
            log.info("request=%s status=%s citations=%d total_ms=%.0f", request_id, answer.status,
                     len(answer.citations), timings["total"])
            if self.settings.log_content:
                log.info("request=%s question=%r", request_id, question)
            if answer.status == "not_found" and self.settings.gap_file:
                record_gap(self.settings.gap_file, question)
            if answer.answer and not streamed:
                yield Event("token", answer.answer)
            yield Event("citations", [c.__dict__ for c in answer.citations])
            yield Event("done", answer)

        footer = net = None  # crisis lines under an answer / under a refusal
        foreign = None  # for a message not in English: the reply when the articles do not answer it
        if self.guard:
            verdict = self.gate.assess(question, history)
            timings["safety"] = (time.perf_counter() - t0) * 1e3
            if verdict.action == "crisis":
                yield from finish(Answer(verdict.reply or self.messages.crisis_reply, "crisis"))
                return
            if verdict.risk:
                net = self.messages.crisis_footer
            if verdict.action == "decline":
                yield from finish(Answer(verdict.reply or self.messages.decline_offtopic, "declined",
                                         notice=verdict.footer or net))
                return
            # A bare greeting or thanks holds no risk content (a risk score on "Hi" is noise on two
            # letters); a crisis reply was decided above, whatever the message.
            if verdict.reason == "language":
                foreign = verdict.reply
            elif small_talk(question):
                yield from finish(Answer(self.messages.small_talk, "declined", reason=SMALL_TALK))
                return
            footer = verdict.footer

        retrieval = self.retriever.search(question, history)
        timings.update(retrieval.timings_ms)
        if self.guard and not retrieval.hits:
            yield from finish(Answer(foreign or self.messages.not_found, "not_found", notice=None if foreign else
                                     footer or net, reason=_why("no passage is close to the question", foreign)))
            return

        citations: dict[tuple, int] = {}
        notice = footer
        parts: list[str] = []
        t_rank = time.perf_counter()
        prompt = build_prompt(question, retrieval.hits, history, self.settings.prompt_token_budget)
        sources = [h.chunk for h in prompt.sources]
        qvec = retrieval.query_vector if retrieval.query_vector is not None else \
            self.embedder.embed([retrieval.query])[0]
        ranked = rank_sentences(qvec, sources, self.embedder.embed, retrieval.focus or question, self.titles,
                                self.hubness)
        timings["rank_sentences"] = (time.perf_counter() - t_rank) * 1e3
        if self.guard:
            decision = self.answerability.decide(question, ranked, close=retrieval.answerable,
                                                 pointed=retrieval.pointed, asked=retrieval.query)
            timings["answerability"] = (time.perf_counter() - t_rank) * 1e3 - timings["rank_sentences"]
            if not decision.answerable:
                yield from finish(Answer(foreign or self.messages.not_found, "not_found",
                                         notice=None if foreign else footer or net,
                                         reason=_why(decision.reason, foreign)))
                return
            ranked = list(decision.evidence)  # lead-ins and headings are never evidence
        best = ranked[0].score if ranked else 0.0
        if self.generator is not None:
            t_gen = time.perf_counter()
            clauses = None
            messages = prompt.messages
            if self.guard and self.settings.decoding == "copy" and hasattr(self.generator, "copy"):
                clauses, shown = self._clause_choices(question, ranked, sources)
                if clauses:  # the model reads only what it may copy
                    messages = sentence_prompt(question, [(s.source + 1, s.text) for s in shown], history)
            # A copied answer has a sentence for each one a quoted answer would show; free text two at most.
            grounder = Grounder(sources, max(MAX_SENTENCES, len(clauses or ())))
            try:
                budget = self.settings.first_sentence_budget_s if self.guard else 0.0

                def give_up() -> bool:  # nothing worth showing yet, and the patient has waited long enough
                    return bool(budget) and not parts and time.perf_counter() - t_gen > budget

                for item in self._generated_sentences(messages, grounder, raw=not self.guard,
                                                      give_up=give_up, clauses=clauses):
                    if isinstance(item, Claim):
                        # Supported but off the point ("Is it safe?" answered with its history):
                        # the article's most relevant sentence serves the patient better.
                        if relevance(item, ranked) < best - max(RELEVANCE_MARGIN, self._margin()):
                            grounder.result.dropped.append((item.text, "not relevant to the question"))
                            continue
                        text = self._render(item, sources, citations)
                    else:
                        text = item
                    parts.append(text)
                    timings.setdefault("first_token", (time.perf_counter() - t0) * 1e3)
                    yield Event("token", text if len(parts) == 1 else " " + text)
            except GenerationError as exc:
                log.warning("request=%s generation failed: %s", request_id, exc)
                notice = self.messages.generation_failed
            timings["generate"] = (time.perf_counter() - t_gen) * 1e3

        mode = "generated" if parts else "quoted"
        if not parts:
            chosen = extractive(self._per_part(question, ranked, sources), sources, margin=self._margin())
            parts = [self._render(c, sources, citations, quoted=True) for c in chosen]
        answer = Answer(" ".join(parts), "answered", self._citations(citations, sources), notice=notice,
                        mode=mode if self.guard else None)
        yield from finish(answer)

    def _clause_choices(self, question: str, ranked: list[Scored], sources) -> tuple[list[list[str]], list]:
        """What each sentence of a copied answer may be: for each sentence a quoted answer would
        show, the whole sentence or its main clause, whichever the model picks; and those sentences."""
        shown = extractive(self._per_part(question, ranked, sources), sources, margin=self._margin())
        choices = [[c.text for c in clause_candidates([Scored(0.0, s.source, s.span, s.text)], sources,
                                                      question=question)] for s in shown]
        return [c for c in choices if c], shown

    def _margin(self) -> float:
        """How far below the best sentence another may score and still be quoted (the scores are
        on another scale when the answer scorer ordered the evidence)."""
        if self.guard and self.answerability.scorer is not None:
            return SCORED_QUOTE_MARGIN
        return QUOTE_MARGIN

    def _per_part(self, question: str, ranked: list[Scored], sources) -> list[Scored]:
        """For a message asking two things ("what is X, and how does it work?"), the best sentence
        for each part leads, so the quoted answer covers both; otherwise ``ranked`` as it is."""
        asked = question_parts(question)
        if len(asked) < 2 or not ranked:
            return ranked
        allowed = {(r.source, r.span) for r in ranked}  # lead-ins stay out
        leads: list[Scored] = []
        scorer = self.guard and self.answerability.scorer is not None
        for part in asked:
            if scorer:  # the sentence that answers this part, if one does
                near = [r for r, p in self.answerability.answering(part, ranked)
                        if p >= self.settings.answer_threshold]
            else:
                near = defining_first(part, rank_sentences(self.embedder.embed([part])[0], sources,
                                                           self.embedder.embed, part, self.titles, self.hubness))
            best = next((r for r in near if (r.source, r.span) in allowed), None)
            if best is not None and all(best.span != b.span or best.source != b.source for b in leads):
                leads.append(best)
        top = ranked[0].score
        # Equal scores put every part's sentence inside the extractive margin.
        leads = [Scored(top, b.source, b.span, b.text) for b in leads]
        return leads + [r for r in ranked if all((r.source, r.span) != (b.source, b.span) for b in leads)]

    def _generated_sentences(self, messages, grounder: Grounder, raw: bool,
                             give_up: Callable[[], bool] = lambda: False,
                             clauses: Sequence[Sequence[str]] | None = None) -> Iterator[Claim | str]:
        """Supported claims as soon as each sentence is complete (or raw text for the baseline).

        ``give_up`` is asked after every piece: a small CPU model's sentences mostly fail the
        grounding check, so waiting for its whole reply before quoting the article made
        patients wait seconds for nothing; past the first-sentence budget the quotes go out."""
        assert self.generator is not None
        buffer = ""
        done = 0  # sentences already handled
        generator = self.generator

        def pieces() -> Iterator[str]:  # called in the deadline's worker, so a raising call is caught too
            if clauses:  # the model picks among the sources' clauses; the decoder copies the one it picks
                yield from generator.copy(messages, clauses, may_stop=False)
            else:
                yield from generator.stream(messages)

        stream = within_deadline(pieces(), self.settings.generation_deadline_s, self.settings.generation_timeout_s)
        try:
            for piece in stream:
                buffer += piece
                sentences = split_answer(buffer)
                # The last one may still be growing, unless it is a copied clause: those come whole.
                whole = bool(clauses) and SENTENCE_END.search(buffer.rstrip()) is not None
                complete = sentences if whole else sentences[:-1]
                for sentence, cited in complete[done:]:
                    yield from self._judge(sentence, cited, grounder, raw)
                done = max(done, len(complete))
                # Enough said, or the model has wandered off its sources: stop paying for tokens.
                if grounder.full or len(grounder.result.dropped) >= MAX_DROPPED or give_up():
                    break
            for sentence, cited in split_answer(buffer)[done:]:
                if raw or SENTENCE_END.search(sentence):  # a sentence cut off by the length limit is dropped
                    yield from self._judge(sentence, cited, grounder, raw)
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

    @staticmethod
    def _judge(sentence: str, cited, grounder: Grounder, raw: bool) -> Iterator[Claim | str]:
        if raw:
            yield sentence + "".join(f" [{n}]" for n in cited[:1])
            return
        claim = grounder.feed(sentence, cited)
        if claim is not None:
            yield claim

    @staticmethod
    def _render(claim: Claim, sources, citations: dict[tuple, int], quoted: bool = False) -> str:
        """The sentence with its citation number before the closing punctuation; a quoted
        sentence without its list label ("Rapid Onset of Action: "), which stays in the citation."""
        key = (sources[claim.source].doc_id, *claim.span)
        n = citations.setdefault(key, len(citations) + 1)
        text = (strip_label(claim.text) if quoted else claim.text).rstrip()
        match = re.search(r"[.!?][\"”’']?$", text)
        end = match.group(0) if match else "."
        if match:
            text = text[: match.start()].rstrip()
        return f"{text} [{n}]{end}"

    def _citations(self, citations: dict[tuple, int], sources) -> list[Citation]:
        out = []
        for (doc_id, start, end), n in sorted(citations.items(), key=lambda kv: kv[1]):
            doc = self.store.documents[doc_id]
            out.append(Citation(n, doc_id, doc.title, doc.text[start:end], start, end, doc.url))
        return out
