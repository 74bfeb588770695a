"""Is a claim supported by a source passage? Precision first: structural vetoes, then acceptance.

A claim is accepted only if it can be read off one sentence of the source by a small set of
rewrites, each tested on its own:
- its words align, in order, to that sentence (same stem, or a listed everyday paraphrase);
- what it leaves out is removable without changing what is claimed: whole leading or
  trailing clauses (not conditions: "when administered in a controlled medical setting"),
  parenthetical clauses and appositives, whole list items, a list label, and other words only
  if they are not hedges, negations, conditions, quantities or framing ("may", "not", "some",
  "potential", "interest in", "need for": ``lexicon.toml`` ``protected``);
- what it adds is only function words, a weakening word ("can"), or "is" where the source has
  an appositive ("psilocybin, the active compound" -> "psilocybin is the active compound");
- it crosses from one clause into another only where the source's own words join them, so a
  subject cannot be taken from one clause and a predicate from another, and a modifier from
  one list item cannot land on the head of the next;
- it says nothing about what the source says or omits.
Anything else is rejected with the first reason found. Vocabulary alone is never enough: a
sentence made only of the source's words fails when its order, its clauses or its hedges
differ from the source's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chunking import split_sentences
from .lexicon import lexicon
from .parse import PRONOUNS as PARSED_PRONOUNS
from .parse import Pronoun, Subject, parse, relative_openers, restrictions
from .tokens import Segment, Token, segments, strip_list_number, tokenize

__all__ = ["Check", "verify"]

MIN_CONTENT_WORDS = 3  # "Ketamine works." is too little to check against anything
PRONOUNS = frozenset({"it", "they", "them"})
PARTICLES = frozenset({"off", "up", "out", "away", "down", "back"})  # of a phrasal verb, "taper them off"
MODALS = frozenset({"may", "might", "can", "could", "would", "should", "must", "will"})
HEDGING_MODALS = frozenset({"may", "might", "can", "could"})  # what follows them is possible, not asserted
MAX_SUBJECT_WORDS = 4
MAX_READINGS = 8  # pronoun readings tried per source sentence
# Clauses these open have their own predicate: what conditions them does not condition the one before.
OWN_CLAUSE_STARTERS = frozenset({"which", "who", "whom", "whose", "although", "though", "while", "whereas", "but",
                                 "so", "because", "since", "however"})
MAX_FRONTED_WORDS = 16
NOT_NARROWING = frozenset({"other", "another", "such"})  # "warfarin or other blood thinners" is every blood thinner
# A leading phrase opened by one of these frames the clause after it ("In rare cases, ...").
LEADING_PREPOSITIONS = frozenset({"in", "for", "among", "with", "during", "at", "on", "across", "within", "after",
                                  "before", "from", "by"})


@dataclass(frozen=True)
class Check:
    supported: bool
    reason: str
    span: tuple[int, int] | None = None  # offsets, in the source text, of the sentence that supports it


def verify(claim: str, source: str) -> Check:
    """Check ``claim`` against each sentence of ``source``; the first that supports it wins."""
    words = lexicon()
    claim = claim.strip()
    for lead in words.lead_ins:
        claim = lead.sub("", claim, count=1)
    c_tokens = [t for t in tokenize(claim) if not t.punct]
    content = [t for t in c_tokens if t.text not in words.function and t.text not in words.auxiliary]
    if len(content) < MIN_CONTENT_WORDS:
        return Check(False, "too short to be a claim")
    best: Check | None = None
    best_rank = -1.0
    claim_keys = {t.key for t in c_tokens}
    previous_subject: list[Token] = []
    previous_text = ""
    for start, end in split_sentences(source):
        text, shift = strip_list_number(source[start:end])
        tokens = tokenize(text)
        subject = _subject(tokens)
        parsed, pronouns = parse(text) if _has_pronoun(tokens) else ((), ())
        previous_parsed = parse(previous_text)[0] if pronouns and previous_text else ()
        for variant in (text, *_unnamed(text, tokens), *_resolved(text, tokens, subject, previous_subject, c_tokens),
                        *_parsed_resolved(text, parsed, pronouns, previous_parsed, claim_keys),
                        *_fronted_moved(text, tokens, claim_keys)):
            result = _against_sentence(c_tokens, variant)
            if result is None:
                return Check(True, "supported", (start, end))
            if best is None or result[1] > best_rank:
                best, best_rank = Check(False, result[0]), result[1]
        # "It ..." after "It ..." still stands for what the first of them did
        if subject or not (tokens and tokens[0].text in PRONOUNS):
            previous_subject = subject
        if parsed or not pronouns:  # a sentence of pronouns alone hands on the subjects before it
            previous_text = text
    return best or Check(False, "the source is empty")


# ------------------------------------------------------------------------------------------
# "It" and "they" read as what they stand for


def _subject(tokens: list[Token]) -> list[Token]:
    """The plain noun phrase a sentence opens with, before its first auxiliary or modal
    ("Lithium has been used ..." -> "Lithium"; "Sleeping tablets may ..." -> "Sleeping
    tablets"), after a list label; empty when the sentence does not open that way."""
    words = lexicon()
    segs = segments(tokens)
    label = segs[0].end if segs and segs[0].boundary == "label" else 0
    head: list[Token] = []
    for at, tok in enumerate(tokens[label:label + MAX_SUBJECT_WORDS + 1], label):
        if tok.text in words.auxiliary or tok.text in MODALS:
            return head if any(t.text not in words.function for t in head) else []
        if head and tok.text == "," and _opens_aside(tokens, at):
            # "Bupropion, which is sold as ..., is ..."; "Light therapy, also called ..., involves ..."
            return head if head[0].text not in LEADING_PREPOSITIONS and all(
                t.text not in words.function and t.text not in words.asserting_connective for t in head) else []
        if tok.punct or (tok.number and not head) or tok.text in words.clause_start or tok.text in PRONOUNS \
                or tok.text in ("and", "or", "but"):
            return []
        head.append(tok)
    return []


def _opens_aside(tokens: list[Token], comma: int) -> bool:
    """The comma after a sentence's first words opens a relative clause or an appositive ("which",
    "also called", "an antidepressant that ..."), which a second comma closes before the verb."""
    nxt = tokens[comma + 1] if comma + 1 < len(tokens) else None
    if nxt is None or nxt.punct:
        return False
    closes = any(t.text == "," for t in tokens[comma + 2:])
    return closes and (nxt.text in ("which", "who", "also", "a", "an", "the", "sometimes", "often", "commonly"))


def _resolved(sentence: str, tokens: list[Token], own: list[Token], previous_subject: list[Token],
              claim: list[Token]) -> list[str]:
    """The sentence with one "it", "they" or "them" replaced by its likely antecedent: the
    subject this sentence opens with (for a pronoun in a later clause) or the previous
    sentence's subject; and "others" read as "other patients" after "some patients". Only
    where the claim names that antecedent, so "It may also be used for catatonia" after "ECT
    is ..." supports "ECT may also be used for catatonia"; the claim must still align with the
    rest of the sentence like any other. A noun phrase further back is not tried: "taper them
    off" after "SSRIs ... dampen the effects of psilocybin" has three candidates and no way
    here to tell which is meant."""
    function = lexicon().function
    claim_keys = {t.key for t in claim}
    out = []
    for i, tok in enumerate(tokens):
        if tok.text == "others":
            # "Some patients improve within a day, whereas others ..." -> "Other patients ...":
            # the others are others of the group "some" picked out earlier in the sentence
            groups = {b.key: b.text for a, b in zip(tokens[:i], tokens[1:i], strict=False)
                      if a.text in ("some", "many", "most") and not b.punct}
            for lead, noun in zip(claim, claim[1:], strict=False):
                if lead.text in ("other", "some") and noun.key in groups:
                    out.append(f"{sentence[:tok.start]}{lead.text} {groups[noun.key]}{sentence[tok.end:]}")
            continue
        if tok.text not in PRONOUNS:
            continue
        before = own if own and own[-1].end <= tok.start else []
        for antecedent in (before, previous_subject):
            if antecedent and all(t.key in claim_keys for t in antecedent if t.text not in function):
                out += _replaced(sentence, tok.start, tok.end, " ".join(t.text for t in antecedent))
    return out


def _unnamed(sentence: str, tokens: list[Token]) -> list[str]:
    """The sentence without an aside that only names its subject again ("Light therapy, also
    called bright light therapy, involves ..." -> "Light therapy involves ..."): the claim may
    leave it out, and the name it repeats no longer draws the alignment away from the subject."""
    segs = segments(tokens)
    opening = (segs[0].end if segs and segs[0].boundary == "label" else 0) + MAX_SUBJECT_WORDS + 1
    out = []
    for i, tok in enumerate(tokens[:opening]):
        if tok.text != ",":
            continue
        texts = [t.text for t in tokens[i + 1:i + 5]]
        if not any(tuple(texts[k:k + len(n)]) == n for n in NAMING for k in range(2)):
            continue
        close = next((j for j in range(i + 1, len(tokens)) if tokens[j].text == ","), None)
        if close is not None and close - i <= MAX_SUBJECT_WORDS + 4:
            out.append(sentence[:tok.start] + sentence[tokens[close].end:])
    return out


def _has_pronoun(tokens: list[Token]) -> bool:
    return any(t.text in PARSED_PRONOUNS for t in tokens)


def _parsed_resolved(sentence: str, subjects: tuple[Subject, ...], pronouns: tuple[Pronoun, ...],
                     previous: tuple[Subject, ...], claim_keys: set[str]) -> list[str]:
    """The sentence with one pronoun replaced by a subject it can stand for, read off the parse:
    the subject of an earlier clause of the same sentence ("Although mirtazapine helps sleep, it
    is not licensed ...") or of the previous sentence, of the same grammatical number, and only
    one the claim names (or names by its appositive: "Some antidepressants, particularly
    SSRIs"). The claim must still align with the rest of the sentence like any other."""
    words = lexicon()
    out = []
    for pronoun in pronouns:
        here = [s for s in subjects if s.end <= pronoun.start]
        for cand in (*reversed(here), *reversed(previous)):
            if cand.plural is not None and cand.plural != pronoun.plural:
                continue
            for name in (cand.text, *cand.names):
                named = [t for t in tokenize(name) if t.text not in words.emphasis]  # "particularly SSRIs"
                keys = [t.key for t in named if not t.punct and t.text not in words.function]
                if not keys or not all(k in claim_keys for k in keys):
                    continue
                bare = " ".join(t.text for t in named)
                out += _replaced(sentence, pronoun.start, pronoun.end, f"{bare}'s" if pronoun.possessive else bare)
                if len(out) >= MAX_READINGS:
                    return out
    return out


def _replaced(sentence: str, start: int, end: int, name: str) -> list[str]:
    """The sentence with ``name`` in place of the pronoun at [start, end); where a phrasal verb's
    particle follows it, also with the particle moved before the name ("taper them off" ->
    "taper off SSRIs")."""
    out = [sentence[:start] + name + sentence[end:]]
    rest = tokenize(sentence[end:])
    if rest and rest[0].text in PARTICLES:
        out.append(f"{sentence[:start]}{rest[0].text} {name}{sentence[end + rest[0].end:]}")
    return out


def _fronted_moved(sentence: str, tokens: list[Token], claim_keys: set[str]) -> list[str]:
    """"Before starting, your psychiatrist will check ..." read as "Your psychiatrist will check
    ... before starting": a fronted condition or phrase moved behind the clause it opens, so a
    claim may put it there. Moved, it is checked like any condition at a clause's end."""
    segs = segments(tokens)
    k = 1 if segs and segs[0].boundary == "label" else 0

    def has_verb(seg: Segment) -> bool:
        return any(t.text in lexicon().auxiliary or t.text in MODALS for t in tokens[seg.start:seg.end])

    # the fronted part runs to the first later segment with a verb of its own: the main clause
    main = next((i for i in range(k + 1, len(segs)) if has_verb(segs[i])), None)
    if main is None or segs[main].boundary == "hard" or tokens[segs[main].start].text != ",":
        return []
    end = next((i for i in range(main + 1, len(segs)) if segs[i].boundary == "hard" or has_verb(segs[i])
                or _own_clause(segs[i], tokens)), len(segs))
    words = [t for seg in segs[k:main] for t in tokens[seg.start:seg.end] if not t.punct]
    if not words or not (words[0].text in lexicon().condition or words[0].text in LEADING_PREPOSITIONS) \
            or len(words) > MAX_FRONTED_WORDS:
        return []
    if not all(t.key in claim_keys for t in words if t.text not in lexicon().function):
        return []  # only for a claim that moved it; one that drops it is judged on the sentence as written
    body = [t for seg in segs[main:end] for t in tokens[seg.start:seg.end]]
    body_start = next(t.start for t in body if not t.punct)
    body_end = max(t.end for t in body if not t.punct)
    lead_text = sentence[words[0].start:words[-1].end]
    return [f"{sentence[:words[0].start]}{sentence[body_start:body_end]} {lead_text}{sentence[body_end:]}"]


# ------------------------------------------------------------------------------------------
# One sentence


def _against_sentence(claim: list[Token], sentence: str) -> tuple[str, float] | None:
    """None if the sentence supports the claim, else (reason, how close it came)."""
    words = lexicon()
    src = tokenize(sentence)
    # "until spring, when daylight increases": a "when" the parse reads as a relative clause
    relative = frozenset(i for i, t in enumerate(src) if t.text in RELATIVE_WHEN
                         and t.start in relative_openers(sentence)) if any(t.text in RELATIVE_WHEN for t in src) \
        else frozenset()
    src_words = [i for i, t in enumerate(src) if not t.punct]
    claim = _paraphrased(claim, [src[i] for i in src_words])
    match = _loose_function_words(claim, _align(claim, src, src_words), src)
    aligned = [j for j in match if j is not None]
    closeness = len(aligned) / max(len(claim), 1)

    # What the claim adds.
    for k, (tok, j) in enumerate(zip(claim, match, strict=False)):
        if j is not None or tok.text in words.function or tok.text in words.weakening:
            continue
        if tok.text in words.about_the_text:
            return "speaks of what the source says, not of what it says about the topic", closeness
        if tok.text in words.auxiliary:
            if _aux_allowed(k, claim, match, src):
                continue
            return f"adds '{tok.text}', turning a description into a claim", closeness
        if tok.number:
            return f"number not in the source: {tok.text}", closeness
        if tok.text in words.strengthening:
            return f"claims more than the source: '{tok.text}'", closeness
        return f"not said in this sentence: '{tok.text}'", closeness
    if not aligned:
        return "nothing in common with the source", 0.0

    # What the claim leaves out, and how it joins what it keeps.
    segs = segments(src)
    seg_of = [0] * len(src)
    for n, seg in enumerate(segs):
        for i in range(seg.start, seg.end):
            seg_of[i] = n
    # "Ketamine has been shown to induce ..." -> "Ketamine can induce ...": a claim that adds a
    # weakening word may leave out the evidence framing it replaces.
    weakened = any(j is None and t.text in words.weakening for t, j in zip(claim, match, strict=False))
    spare = words.evidence if weakened else frozenset()
    reason = (_check_prefix(src, segs, seg_of, aligned[0], aligned, relative)
              or _check_gaps(src, segs, seg_of, aligned, spare, relative)
              or _check_suffix(src, segs, seg_of, aligned[-1], relative)
              or _dropped_restriction(sentence, src, aligned))
    return (reason, closeness) if reason else None


def _dropped_restriction(sentence: str, src: list[Token], aligned: list[int]) -> str | None:
    """A kept noun that loses what narrows it says more than the source: "people *with
    schizophrenia* may have ..." does not support "people may have ...", nor "any *psychiatric*
    condition" "any condition"; a condition loses none of its parts. Read off the parse; an aside
    set off by commas or brackets may go."""
    words = lexicon()
    kept = {(src[j].start, src[j].end) for j in aligned}
    kept_starts = {s for s, _ in kept}
    colon = sentence.find(": ")
    label = colon + 1 if 0 < colon < 60 else 0
    for r in restrictions(sentence):
        if not any(r.head_start <= s < r.head_end for s in kept_starts) and not r.condition:
            continue  # the restricted word itself is gone
        if label and r.end <= label:
            continue  # a list label ("Safety and Tolerability:") is not part of the statement
        inside = [t for t in src if r.start <= t.start < r.end and not t.punct]
        around = " ".join(sentence[max(0, r.start - 24):r.start + 14].lower().split())
        after = " ".join(sentence[r.end:r.end + 14].lower().split())
        if any(m in around for m in words.emphasis) or (
                any(after.lstrip(", ").startswith(m) for m in words.emphasis) and max(kept_starts) > r.end):
            continue  # examples ("benzodiazepines such as lorazepam"), or a category for its example, may go
        content = [t for t in inside if t.text not in words.function and t.text not in words.auxiliary
                   and t.text not in NOT_NARROWING]
        dropped = [t for t in content if (t.start, t.end) not in kept]
        if not dropped:
            continue
        if any((t.start, t.end) in kept for t in content) != r.condition:
            continue  # partly kept: a list item or conjunct goes (judged elsewhere); a condition goes whole
        content = dropped
        head = sentence[r.head_start:r.head_end]
        return f"drops '{' '.join(t.text for t in content)}', which narrows '{head}'"
    return None


def _paraphrased(claim: list[Token], src: list[Token]) -> list[Token]:
    """Replace an everyday phrase of the claim by the source phrase it stands for, where the
    source has that phrase ("talk therapy" -> "psychotherapy")."""
    words = lexicon()
    src_keys = [t.key for t in src]
    out, i = [], 0
    keys = [t.key for t in claim]
    while i < len(claim):
        done = False
        for size in (3, 2, 1):
            phrase = tuple(keys[i:i + size])
            if len(phrase) < size or phrase not in words.paraphrases:
                continue
            for target in words.paraphrases[phrase]:
                if _contains(src_keys, target) and not _contains(src_keys, phrase):
                    tok = claim[i]
                    out += [Token(k, k, tok.start, claim[i + size - 1].end) for k in target]
                    i += size
                    done = True
                    break
            if done:
                break
        if not done:
            out.append(claim[i])
            i += 1
    return out


def _contains(keys: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(keys[i:i + n]) == phrase for i in range(len(keys) - n + 1))


def _align(claim: list[Token], src: list[Token], src_words: list[int]) -> list[int | None]:
    """In-order alignment of claim words to source words (indices into ``src``), maximising
    matched content words and preferring contiguous runs."""
    words = lexicon()
    options = [[j for j in src_words if src[j].key == tok.key] for tok in claim]
    weight = [0.4 if tok.text in words.function or tok.text in words.auxiliary else 3.0 for tok in claim]
    # best[j] = (score, path) with the last matched source index j (-1: none yet)
    best: dict[int, tuple[float, tuple[int | None, ...]]] = {-1: (0.0, ())}
    for k, _tok in enumerate(claim):
        nxt: dict[int, tuple[float, tuple[int | None, ...]]] = {}
        for last, (score, path) in best.items():
            skip = (score - weight[k], path + (None,))  # left unaligned
            if last not in nxt or skip[0] > nxt[last][0]:
                nxt[last] = skip
            for j in options[k]:
                if j <= last:
                    continue
                # A jump costs a little, more the further it goes: of two alignments with
                # the same words, the one that keeps them together wins.
                gap = 0.0 if last < 0 or _adjacent(src, last, j) else 0.3 + 0.02 * (j - last)
                cand = (score + weight[k] - gap, path + (j,))
                if j not in nxt or cand[0] > nxt[j][0]:
                    nxt[j] = cand
        best = nxt
    return list(max(best.values(), key=lambda v: v[0])[1])


def _loose_function_words(claim: list[Token], match: list[int | None], src: list[Token]) -> list[int | None]:
    """A claim's "the" or "a" matched far from the word it goes with ("The effects" to "the
    strongest effects ..., and these effects") is left unmatched, as any function word may be."""
    function = lexicon().function
    out = list(match)
    for k, j in enumerate(match):
        if j is None or claim[k].text not in function:
            continue
        nxt = next((match[i] for i in range(k + 1, len(match)) if match[i] is not None), None)
        if nxt is not None and not _adjacent(src, j, nxt):
            out[k] = None
    return out


def _adjacent(src: list[Token], a: int, b: int) -> bool:
    return all(src[i].punct for i in range(a + 1, b))


def _aux_allowed(k: int, claim: list[Token], match: list[int | None], src: list[Token]) -> bool:
    """An added "is"/"has" stands where the source has an auxiliary of its own (a tense or
    voice change), or between a noun and its appositive ("MDMA, commonly known as ecstasy")."""
    words = lexicon()
    before = next((match[i] for i in range(k - 1, -1, -1) if match[i] is not None), None)
    after = next((match[i] for i in range(k + 1, len(match)) if match[i] is not None), None)
    if before is None or after is None:
        return False
    between = src[before + 1:after]
    if any(t.text in words.auxiliary for t in between):
        return True
    appositive = between and between[0].text in (",", "(", ")", ":", "—", "–") and all(
        t.punct or t.text in ("a", "an", "the") for t in between)
    return bool(appositive)


# ------------------------------------------------------------------------------------------
# Left out


def _protected(tokens: list[Token], spare: frozenset[str] = frozenset()) -> str | None:
    words = lexicon()
    for t in tokens:
        if t.punct or t.text in spare:
            continue
        if t.text in words.protected or t.key in words.protected or t.number:
            return t.text
    return None


def _removable_clause(seg: Segment, src: list[Token], relative: frozenset[int] = frozenset()) -> str | None:
    """None if dropping this whole segment keeps the claim true, else why not."""
    words = lexicon()
    if seg.boundary == "label":
        return None
    first = next((t for t in src[seg.start:seg.end] if not t.punct), None)
    if first is None:
        return None
    at = src.index(first)
    if at > 0 and src[at - 1].text == "or":
        return None  # ", or when the box is moved further away": one more way, not a condition on the rest
    if at in relative:
        return None  # "until spring, when natural daylight increases": said of the noun
    if first.text in words.condition and not _after_emphasis(src, seg.start):
        text = " ".join(t.text for t in src[seg.start:seg.end] if not t.punct)
        return f"drops the condition '{text}'"
    return None


RELATIVE_WHEN = frozenset({"when", "where"})


def _after_emphasis(src: list[Token], i: int) -> bool:
    """The condition starting at token ``i`` is an example ("particularly when ..."), also when
    it continues one ("particularly when A or when B")."""
    words = lexicon()
    k = i - 1
    while k >= 0:
        if src[k].text in words.emphasis:
            return True
        if src[k].text in ("or", "and") or src[k].punct:
            # walk back over the previous condition to what introduced it
            j = k - 1
            while j >= 0 and src[j].text not in words.condition and j > k - 12:
                j -= 1
            if j < 0 or src[j].text not in words.condition:
                return False
            k = j - 1
            continue
        return False
    return False


def _parenthetical(seg: Segment, src: list[Token]) -> bool:
    """An appositive or a relative clause between commas or brackets, not a predicate."""
    words = lexicon()
    first = next((t for t in src[seg.start:seg.end] if not t.punct), None)
    if first is None:
        return True  # the ")" closing one
    return bool(seg.closed and first.text not in words.auxiliary and seg.boundary in ("soft", "hard"))


def _head_cut(src: list[Token], seg: Segment, first_kept: int) -> list[Token]:
    return [t for t in src[seg.start:first_kept] if not t.punct]


def _leading_restriction(seg: Segment, src: list[Token]) -> str | None:
    """A dropped leading phrase that narrows what follows: "In rare cases," "For people who
    have been inactive," "In some patients," (a clause it opens, "While ...", "Unlike ...", may go)."""
    words = lexicon()
    kept = [t for t in src[seg.start:seg.end] if not t.punct]
    if not kept or seg.boundary == "label" or kept[0].text not in LEADING_PREPOSITIONS:
        return None  # a clause of its own ("Blood pressure may rise ..., so it is checked ...")
    if kept[0].text in ("for", "in", "among", "with") and len(kept) > 1 and any(
            t.text in words.restricted_group for t in kept[1:3]):
        return f"drops the restriction '{' '.join(t.text for t in kept)}'"
    if (w := _protected(kept)) is not None:
        return f"drops '{w}'"
    return None


def _check_prefix(src, segs, seg_of, first: int, aligned: list[int], relative=frozenset()) -> str | None:
    words = lexicon()
    n = seg_of[first]
    for k, seg in enumerate(segs[:n]):
        backward = k > 0 and segs[k + 1].starter in ("which", "who")  # "A if B, which is why C"
        if not backward and (why := _removable_clause(seg, src, relative)) is not None:
            return why
        if (k == 0 or segs[k - 1].boundary == "label") and (why := _leading_restriction(seg, src)) is not None:
            return why
    if _example_jump(src[:first]) or _noun_of_relative(src, segs, seg_of, n, aligned):
        return None  # "Ibuprofen may ..." from "Some medicines, such as ibuprofen, may ..."
    cut = _head_cut(src, segs[n], first)
    if _relative_clause_claim(cut, segs, seg_of, n, aligned):
        cut = []
    cut = _after_conjoined_clause(src, segs[n].start, first, cut)
    if tuple(t.text for t in cut) in CONSEQUENCE_LEADS:
        cut = []  # "..., which is why infusions are only given at the clinic" asserts what follows
    if cut and segs[n].starter in words.condition:
        return f"drops the condition '{segs[n].starter}'"
    if cut and cut[0].text in words.concessive:
        # "While X remain ..., there is growing interest ..." -> "X remain ...": a concession
        # is asserted as much as the clause it leads to.
        cut = cut[1:]
    if _named_by_appositive(cut):
        return None  # "This approach, known as augmentation, does not ..." -> "Augmentation does not ..."
    if (w := _protected(cut)) is not None:
        return f"drops '{w}'"
    hedged = any(src[j].text in HEDGING_MODALS for j in aligned)
    if _subject_conjunct(cut, hedged):
        return None
    content = [t.text for t in cut if t.text not in words.function and t.text not in words.auxiliary
               and t.text not in words.asserting_connective]
    if content:
        return f"changes whom the claim is about (drops '{' '.join(content)}' before it)"
    return None


def _noun_of_relative(src: list[Token], segs, seg_of, n: int, aligned: list[int]) -> bool:
    """"..., are omega-3 fatty acids, which are found in oily fish" -> "Omega-3 fatty acids are
    found in oily fish": the claim is a noun phrase that ends its segment and the relative
    clause said of it; what came before the noun does not bear on it, unless it narrows the
    noun ("some", a number) or the segment is a condition."""
    words = lexicon()
    if n + 1 >= len(segs) or segs[n].starter in words.condition:
        return False
    def next_words(k: int) -> int:  # the next segment with words ("(...)" leaves a bare ")")
        while k < len(segs) and all(t.punct for t in src[segs[k].start:segs[k].end]):
            k += 1
        return min(k, len(segs) - 1)

    said = next_words(n + 1)  # the segment said of the noun: its relative clause or its bracketed appositive
    after = next_words(said + 1)
    if _bracketed(segs[said], src) and segs[after].starter in ("which", "who") \
            and not any(seg_of[j] == said for j in aligned):
        said = after
    if not (segs[said].starter in ("which", "who") or _bracketed(segs[said], src)):
        return False
    in_noun = [j for j in aligned if seg_of[j] == n]
    # the rest may run on past the clause ("..., who can slow the drip if readings climb"): the
    # gap and suffix checks judge that part like any other
    if not in_noun or any(n < seg_of[j] < said for j in aligned) or not any(seg_of[j] == said for j in aligned):
        return False
    last_word = max(i for i in range(segs[n].start, segs[n].end) if not src[i].punct)
    if in_noun[-1] != last_word or in_noun != list(range(in_noun[0], in_noun[-1] + 1)):
        return False
    before = [t for t in src[segs[n].start:in_noun[0]] if not t.punct]
    return not (before and (before[-1].text in words.scope or before[-1].number or before[-1].text in words.protected))


def _bracketed(seg: Segment, src: list[Token]) -> bool:
    return src[seg.start].text == "(" and seg.closed


def _relative_clause_claim(cut: list[Token], segs, seg_of, n: int, aligned: list[int]) -> bool:
    """"Unlike traditional antidepressants, which may take weeks ..." -> "Traditional
    antidepressants may take weeks ...": the claim is the relative clause said of its noun, so
    the connective before the noun does not bear on it."""
    if [t.text for t in cut] not in (["unlike"], ["like"]) or n + 1 >= len(segs):
        return False
    relative = segs[n + 1]
    return relative.starter in ("which", "who") and all(seg_of[j] in (n, n + 1) for j in aligned) and any(
        seg_of[j] == n + 1 for j in aligned)


CONSEQUENCE_LEADS = {("which", "is", "why"), ("that", "is", "why"), ("this", "is", "why"), ("which", "means"),
                     ("which", "means", "that"), ("so",), ("so", "that")}


def _after_conjoined_clause(src: list[Token], start: int, first: int, cut: list[Token]) -> list[Token]:
    """"Most people feel the strongest effects during the infusion, and these effects
    generally fade ..." -> "The effects generally fade ...": when the claim opens a clause
    conjoined by ", and" or ", but", the clause before it is left out whole."""
    for i in range(first - 1, start, -1):
        if src[i].text in ("and", "but") and src[i - 1].text == ",":
            rest = [t for t in src[i + 1:first] if not t.punct]
            if all(t.text in lexicon().function for t in rest):
                return rest
            return cut
    return cut


NAMING = (("known", "as"), ("called",), ("referred", "to", "as"), ("termed",))


def _named_by_appositive(cut: list[Token]) -> bool:
    """The words left out are a description and the appositive naming it ("This approach, known
    as [augmentation]"): the claim names the same thing by its name."""
    texts = [t.text for t in cut]
    for name in NAMING:
        if len(texts) >= len(name) and tuple(texts[-len(name):]) == name:
            described = texts[:-len(name)]
            return len(described) <= 4 and not any(w in lexicon().scope for w in described)
    return False


def _subject_conjunct(cut: list[Token], hedged: bool = False) -> bool:
    """A leading "X and" of a shared subject ("Ketamine and esketamine act ..." -> "esketamine
    acts ..."): a short run of plain words ending in "and"; or "X, Y or" when what follows is
    hedged ("Journalling, drawing or talking ... may help" -> "Talking ... may help")."""
    words = lexicon()
    last = cut[-1].text if cut else ""
    return (1 < len(cut) <= 4 and (last == "and" or (last == "or" and hedged))
            and all(t.text not in words.auxiliary and t.text not in words.clause_start for t in cut[:-1]))


def _conjunct_dropped(src: list[Token], p: int, q: int) -> bool:
    """The words between kept tokens ``p`` and ``q`` are a whole conjunct: they end with "and"
    (not "or", which would turn an alternative into a claim), or begin with it."""
    words = [t for t in src[p + 1:q] if not t.punct]
    return len(words) > 1 and (words[-1].text == "and" or words[0].text == "and")


def _is_conjunct(words: list[Token]) -> bool:
    return len(words) > 1 and words[0].text == "and"


def _check_suffix(src, segs, seg_of, last: int, relative=frozenset()) -> str | None:
    words = lexicon()
    n = seg_of[last]
    tail = [t for t in src[last + 1:segs[n].end] if not t.punct]
    # A claim may stop before the end of its clause; it may not drop what restricts or
    # reverses what it kept ("in some patients", "not", "only"). A conjoined predicate after
    # it ("... and often last one to two weeks", "... and never without advice") goes whole,
    # its numbers and its own negation with it.
    conjunct = bool(tail) and tail[0].text == "and"
    kept = [t.text for t in src[segs[n].start:last + 1]]
    if tail and tail[0].text in COMPARISONS:
        if any(w in NEGATIONS for w in kept):
            return f"drops the comparison '{' '.join(t.text for t in tail)}'"  # "not addictive like opioids"
        tail = []  # "... rather than on serotonin like most antidepressants": said of the others
    if tail and tail[0].text == "or" and "only" in kept:
        return f"drops the alternative '{' '.join(t.text for t in tail)}'"  # "only in studies or at centres"
    if not conjunct and (w := next((t.text for t in tail if t.text in words.scope or t.number), None)) is not None:
        return f"drops '{w}'"
    for seg in segs[n + 1:]:
        if _own_clause(seg, src):
            # "X is usually well tolerated, although it can cause Y, which is reduced when taken
            # with food": a condition after another clause conditions that clause, not X.
            break
        if (why := _removable_clause(seg, src, relative)) is not None:
            return why
    return None


def _own_clause(seg: Segment, src: list[Token]) -> bool:
    """A segment that is a clause with its own predicate: a relative or contrasting clause
    ("which ...", "although ...", "but ...", "so ..."), or ", and" with a verb of its own."""
    first = next((t for t in src[seg.start:seg.end] if not t.punct), None)
    if first is None:
        return False
    if seg.starter in OWN_CLAUSE_STARTERS or first.text in OWN_CLAUSE_STARTERS:
        return True
    return first.text == "and" and any(t.text in lexicon().auxiliary or t.text in MODALS
                                       for t in src[seg.start:seg.end])


MAX_EARLIER_EXAMPLE_WORDS = 8
# Conditions under which one alternative stands for the list; not "only" ("only for A or B" is not "only for A").
OPEN_CONDITIONS = frozenset({"if", "when", "whenever", "unless", "once"})
NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "non", "none"})
COMPARISONS = frozenset({"like", "unlike"})  # a trailing comparison with other things


def _marker_at(texts: list[str]) -> tuple[int, int] | None:
    """(start, length) of the last example marker ("such as", "including" ...) in ``texts``."""
    found = [(i, len(m)) for m in lexicon().example_markers for i in range(len(texts) - len(m) + 1)
             if tuple(texts[i:i + len(m)]) == m]
    return max(found) if found else None


def _example_jump(dropped: list[Token]) -> bool:
    """The words left out name a category and lead into one of its examples ("certain
    painkillers such as [ibuprofen]", "oily fish such as salmon and [mackerel]"): what is said
    of the category is said of the example. Not across a negation or a restriction."""
    words_ = [t for t in dropped if not t.punct]
    texts = [t.text for t in words_]
    marker = _marker_at(texts)
    if marker is None:
        return False
    i, n = marker
    category, earlier = words_[:i], words_[i + n:]
    if any(t.text in lexicon().scope and t.text not in ("some", "certain", "many") for t in category):
        return False
    if earlier:  # earlier examples of the same list, ending where the kept one begins
        joined = texts[-1] in ("and", "or") or dropped[-1].text == ","
        plain = not any(t.text in lexicon().auxiliary or t.text in MODALS for t in earlier)
        return joined and plain and len(earlier) <= MAX_EARLIER_EXAMPLE_WORDS
    return True


def _list_items_dropped(src: list[Token], p: int, q: int) -> bool:
    """Whole items of an "A, B or C" list left out, where that keeps the claim true: among
    examples ("such as lithium or adding a second antidepressant" -> "lithium"), or under a
    modal or a negation ("can cause a fishy aftertaste, loose stools or mild indigestion" ->
    "can cause mild indigestion"; "not to drive, operate machinery, or make decisions")."""
    words = lexicon()
    dropped = src[p + 1:q]
    texts = [t.text for t in dropped if not t.punct]
    if not texts or len(texts) > MAX_EARLIER_EXAMPLE_WORDS:
        return False
    # items, joined by "or"/"and", ending where the list ends or where the kept item begins
    joined = bool({"or", "and"} & set(texts)) and (dropped[-1].punct or texts[-1] in ("or", "and"))
    # "stopping or reducing antidepressants" -> "stopping antidepressants": the item after the kept one
    joined = joined or (texts[0] == "or" and not dropped[0].punct)
    # an item's own "certain" or "some" goes with it ("certain blood vessel conditions or a
    # history of aneurysm"); a negation, which may reach the kept item, does not
    # a negation inside an item after the kept one is that item's own ("can take a break or
    # choose not to answer"); one before it may reach the kept item
    after_kept = texts[0] == "or"
    if not joined or any(t.text in words.auxiliary or t.text in MODALS or t.text in words.clause_start
                         or (t.text in NEGATIONS and not after_kept) for t in dropped):
        return False
    if _marker_at([t.text for t in src[max(0, p - MAX_EARLIER_EXAMPLE_WORDS):p + 1]]) is not None:
        return True  # among examples
    if "or" not in texts and texts[-1] != "or":
        return False  # an "and" list without a modal is a conjunct, judged as such
    # under a modal, a negation or a condition ("When an SSRI is reduced or stopped" -> "When
    # an SSRI is stopped"), one alternative stands for the list; in a plain statement it does not
    clause = [t.text for t in src[max(0, p - 12):p + 1] if not t.punct]
    return any(w in HEDGING_MODALS or w in ("not", "never") or w in OPEN_CONDITIONS for w in clause)


def _check_gaps(src, segs, seg_of, aligned: list[int], spare: frozenset[str] = frozenset(),
                relative=frozenset()) -> str | None:
    words = lexicon()
    for p, q in zip(aligned, aligned[1:], strict=False):
        if _adjacent(src, p, q):
            continue
        if _example_jump(src[p + 1:q]) or _list_items_dropped(src, p, q):
            continue
        sp, sq = seg_of[p], seg_of[q]
        if sp == sq or (_conjunct_dropped(src, p, q) and not any(s.boundary == "hard" for s in segs[sp + 1:sq + 1])):
            dropped = src[p + 1:q]
            if sp == sq and segs[sp].starter in words.condition and any(
                    t.text not in words.function for t in dropped if not t.punct):
                # A condition may not be widened: "in a controlled medical setting" stays whole.
                return f"widens the condition '{segs[sp].starter} ...'"
            if dropped and dropped[0].text == "or" and any(t.text == "only" for t in src[segs[sp].start:p + 1]):
                return f"drops the alternative '{' '.join(t.text for t in dropped if not t.punct)}'"
            if _conjunct_dropped(src, p, q):
                # "... has been used for decades and is still regarded ..." -> "... is still
                # regarded ...": a whole conjoined predicate or item goes, with its own hedges.
                if (w := next((t.text for t in dropped if t.text in words.scope), None)) is not None:
                    return f"drops '{w}'"
            elif (w := _protected(dropped, spare)) is not None:
                return f"drops '{w}'"
            continue
        tail = [t for t in src[p + 1:segs[sp].end] if not t.punct]
        head = _head_cut(src, segs[sq], q)
        between = segs[sp + 1:sq]
        for seg in between:
            if (why := _removable_clause(seg, src, relative)) is not None:
                return why
        # "well-tolerated when administered in a controlled setting" -> "well-tolerated in a
        # controlled setting": the condition word goes, the condition itself stays in the claim.
        condition_kept = bool(head) and head[0].text == segs[sq].starter and segs[sq].starter in words.condition
        if condition_kept:
            head = [t for t in head[1:] if t.text not in words.auxiliary]
            if (w := _protected(head, spare)) is not None:
                return f"drops '{w}'"
            head = []
        # "The safety and potential adverse effects of ketamine and psychedelic therapies, ...,
        # are not ..." -> "The safety of ketamine ... is not ...": a trailing conjunct goes whole.
        if _is_conjunct(tail):
            if (w := next((t.text for t in tail if t.text in words.scope), None)) is not None:
                return f"drops '{w}'"
            tail = []
        if (w := _protected(tail, spare)) is not None or (w := _protected(head, spare)) is not None:
            return f"drops '{w}'"
        hard = any(s.boundary == "hard" for s in segs[sp + 1:sq + 1])
        head_content = [t for t in head if t.text not in words.function and t.text not in words.auxiliary]
        if hard:
            if tail:
                return "joins two clauses the source keeps apart"
            if head_content:
                return "joins two clauses the source keeps apart"
            if any(not _parenthetical(s, src) for s in between):
                return "takes its parts from different clauses"
        elif tail and head_content:
            return "mixes words from two list items"
    return None

