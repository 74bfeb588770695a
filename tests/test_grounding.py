import pytest

from rag.grounding import check_support, ground, rank_sentences, split_answer
from rag.types import Chunk

RAPID = ("Rapid Onset of Action: Unlike traditional antidepressants, which may take weeks to months to produce "
         "therapeutic effects, ketamine has been shown to induce rapid and robust antidepressant effects within "
         "hours to days of administration.")
SAFETY = ("Safety and Tolerability: Ketamine is generally well-tolerated when administered in a controlled medical "
          "setting, with few serious adverse effects reported. However, there are concerns about the potential for "
          "abuse and dependence with long-term ketamine use.")
LONG_TERM = ("Long-Term Safety: The long-term safety and potential adverse effects of ketamine and psychedelic "
             "therapies, particularly with prolonged or repeated use, are not yet fully understood and require "
             "further investigation.")
HEADING = "Ketamine: From Anesthesia to Antidepressant"


def chunk(text, start, cid):
    return Chunk(cid, "article", start, start + len(text), text, HEADING)


SOURCES = [chunk(RAPID, 100, "a"), chunk(SAFETY, 400, "b"), chunk(LONG_TERM, 800, "c")]


@pytest.mark.parametrize("sentence", [
    "Ketamine has been shown to induce fast and robust antidepressant effects within hours to days [1].",  # listed word
    "Ketamine can induce rapid antidepressant effects within hours to days [1].",  # "has been shown to" -> "can"
    "Ketamine is generally well-tolerated in a controlled medical setting [2].",  # condition word dropped, kept
    "There are concerns about the potential for abuse and dependence with long-term ketamine use [2].",
    "The long-term safety of ketamine is not yet fully understood [3].",  # conjunct and aside dropped
    "Traditional antidepressants may take weeks to months to produce therapeutic effects [1].",  # relative clause
])
def test_supported_rewrites_pass(sentence):
    result = ground(sentence, SOURCES)
    assert len(result.claims) == 1, result.dropped


@pytest.mark.parametrize("sentence,why", [
    ("Ketaminatine works within hours to days [1].", "ketaminatine"),               # invented word
    ("Ketamine has been shown to induce rapid effects within 24 hours [1].", "24"),  # changed number
    ("Ketamine is not well-tolerated in a controlled medical setting [2].", "'not'"),  # flipped negation
    ("The long-term safety of ketamine is fully understood [3].", "drops 'not'"),   # dropped negation
    ("Ketamine has slow antidepressant effects [1].", "slow"),                      # antonym
    ("Ketamine cures depression permanently [1].", "cures"),                       # new claim
    ("Ketamine is FDA approved for depression [2].", "fda"),
    ("Ketamine is generally well-tolerated in a medical setting [2].", "condition"),  # condition widened
    ("Traditional antidepressants may take hours to days [1].", "unlike"),          # subject from another clause
    ("Antidepressant effects induce ketamine within hours to days [1].", ""),       # roles reversed
    ("There are concerns about abuse and dependence with long-term use [2].", "potential"),  # hedge dropped
])
def test_unsupported_sentences_are_dropped(sentence, why):
    result = ground(sentence, SOURCES)
    assert result.claims == []
    assert why in result.dropped[0][1]


def test_number_must_match_verbatim():
    src = [Chunk("n", "d", 0, 40, "The trial enrolled 120 adults with TRD.", "")]
    assert check_support("The trial enrolled 120 adults with TRD.", src[0]).ok
    assert not check_support("The trial enrolled 210 adults with TRD.", src[0]).ok


def test_wrong_citation_is_repaired_to_the_supporting_source():
    result = ground("Ketamine is generally well-tolerated in a controlled medical setting [1].", SOURCES)
    assert [c.source for c in result.claims] == [1]
    span = result.claims[0].span
    quote = SAFETY[span[0] - 400 : span[1] - 400]
    assert quote.startswith("Safety and Tolerability") and quote.endswith("reported.")


def test_quote_is_the_shortest_supporting_sentence_run():
    result = ground("There are concerns about the potential for abuse and dependence with long-term ketamine use [2].",
                    SOURCES)
    s, e = result.claims[0].span
    assert SAFETY[s - 400 : e - 400].startswith("However, there are concerns")


def test_markers_and_lead_ins_are_parsed():
    pieces = split_answer("According to source [1], ketamine works fast. It is well-tolerated [2][3].\n"
                          "1. Listed item here [2]")
    assert pieces == [("Ketamine works fast.", [1]), ("It is well-tolerated.", [2, 3]), ("Listed item here", [2])]


def test_heading_copies_and_fragments_are_not_claims():
    result = ground(f"{HEADING}: Rapid Onset of Action. Key points include: [1]. {HEADING}: Ketamine can induce "
                    "rapid antidepressant effects within hours to days [1].", SOURCES)
    assert [c.text for c in result.claims] == ["Ketamine can induce rapid antidepressant effects within hours to days."]


def test_the_article_title_is_not_read_as_a_section_heading():
    """Read under the article's title, an opening line about depression matched every question on
    the article's topic; its own words must earn its place."""
    title = "Ketamine Therapy For Resistant Depression"
    opening = Chunk("c0", "doc", 0, 60, "Depression is a severe disorder that affects millions of people.",
                    heading=title)
    mechanism = Chunk("c1", "doc", 100, 170, "It acts on NMDA receptors and builds new connections.",
                      heading="How ketamine works")
    question = "how does ketamine therapy work"
    without = rank_sentences(None, [opening, mechanism], question=question)
    assert without[0].text.startswith("Depression")  # the title's words count for the opening line
    ranked = rank_sentences(None, [opening, mechanism], question=question, titles={"doc": title})
    assert ranked[0].text.startswith("It acts")
