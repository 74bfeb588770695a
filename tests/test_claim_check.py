"""The meaning-level claim check (rag.verify): its rewrites one by one, its vetoes, the
benchmark's frozen figures, and ``python -m rag verify``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rag.check_figures import check_figures, flat_figures, markdown_section
from rag.verify import verify
from rag.verify.benchmark import CLAIMS_DIR, load_claims, new_check, score

TRD = ("TRD is associated with significant functional impairment, increased risk of suicide, "
       "and reduced quality of life.")
PSY = ("Psychedelic therapies are administered in a controlled setting under the guidance of trained therapists, "
       "who help patients process their experiences.")
GOAL = ("Integrating these treatments into psychiatric practice raises challenges that must be addressed to ensure "
        "responsible and equitable access to these treatments.")
PSILO = "Psilocybin, the active compound in certain species of mushrooms, has been studied for depression."
LIST = "Esketamine may cause dissociation, dizziness and nausea, which usually pass within two hours."


@pytest.mark.parametrize("claim,source", [
    (TRD, TRD),                                                                    # verbatim
    ("TRD is associated with increased risk of suicide.", TRD),                    # one list item
    ("Psilocybin is the active compound in certain species of mushrooms.", PSILO),  # appositive to "is"
    ("Psilocybin has been studied for depression.", PSILO),                        # appositive dropped
    ("Psychedelic therapies are administered in a controlled setting.", PSY),      # trailing phrase dropped
    ("Esketamine may cause dizziness.", LIST),                                     # list item kept alone
])
def test_allowed_rewrites_are_supported(claim, source):
    result = verify(claim, source)
    assert result.supported, result.reason
    assert result.span is not None and source[result.span[0]:result.span[1]].strip()


@pytest.mark.parametrize("claim,source", [
    ("Trained therapists are administered in a controlled setting.", PSY),         # roles reversed
    ("TRD is associated with increased quality of life.", TRD),                    # words moved between items
    ("Equitable access to these treatments has been ensured.", GOAL),              # a goal reported as done
    ("TRD is associated with reduced risk of suicide.", TRD),                      # antonym
    ("Esketamine causes dissociation.", LIST),                                     # hedge dropped
    ("Esketamine may cause dizziness, which usually passes within four hours.", LIST),  # number changed
    ("The article says nothing about the cost of psilocybin.", PSILO),             # about the text
    ("Psilocybin cures depression in certain species.", PSILO),                    # stronger, salad
    ("Mushrooms have been studied for the active compound.", PSILO),               # word salad of source nouns
])
def test_false_claims_made_of_the_source_words_are_rejected(claim, source):
    result = verify(claim, source)
    assert not result.supported and result.reason


TWO = "Ketamine is compared with psilocybin in several trials. It may cause dissociation for a short time."
LATER = "Sleeping tablets may help for a short period, but they are generally not advised for more than four weeks."
WHILE = "While ketamine acts within hours, its effects may fade within weeks."
IF = "If ketamine is given every day, it may cause bladder problems."


@pytest.mark.parametrize("claim,source,supported", [
    ("Ketamine may cause dissociation for a short time.", TWO, True),     # "It" is the last sentence's subject
    ("Psilocybin may cause dissociation for a short time.", TWO, False),  # not the subject: no antecedent
    ("Sleeping tablets are generally not advised for more than four weeks.", LATER, True),  # "they", own subject
    ("Sleeping tablets are not advised for more than four weeks.", LATER, False),  # the hedge still counts
    ("Ketamine acts within hours.", WHILE, True),           # a concession is asserted
    ("Ketamine's effects fade within weeks.", WHILE, False),  # its hedge is not
    ("Ketamine is given every day.", IF, False),             # a condition is not asserted
])
def test_pronouns_read_as_the_subject_and_concessions_as_asserted(claim, source, supported):
    result = verify(claim, source)
    assert result.supported is supported, result.reason


EXAMPLES = ("Some cold remedies, including certain decongestants such as pseudoephedrine or phenylephrine, "
            "may raise blood pressure.")
LATE_IF = ("Lithium is usually well tolerated, although it can cause thirst, tremor or weight gain, which often "
           "ease when the dose is lowered.")
NOUN = "The option studied most so far is bright light therapy, which is given with a lamp each morning."
FRONTED = "Before the first session, a nurse will usually measure your pulse, weight and blood pressure."
RARE = "In rare cases, the spray can cause a sudden rise in blood pressure."
GROUP = "For people who have never exercised, short walks are generally safer than long runs."
COUNT = "Sessions usually take place over two to three weeks with the two nurses who run the clinic."
AND_CLAUSE = "Most people feel drowsy during the session, and this drowsiness generally fades within an hour."
NAMED = "This approach, known as augmentation, does not mean that you have a psychotic illness."
EITHER = "Walking, cycling or swimming may lift mood within a few weeks."
PLAIN = "Walking, cycling or swimming lifts mood within a few weeks."


@pytest.mark.parametrize("claim,source,supported", [
    ("Pseudoephedrine may raise blood pressure.", EXAMPLES, True),           # an example for its category
    ("Pseudoephedrine raises blood pressure.", EXAMPLES, False),             # ... its hedge still counts
    ("Lithium is usually well tolerated.", LATE_IF, True),                   # a later clause's condition
    ("Lithium can cause tremor.", LATE_IF, True),                            # one item of a list under "can"
    ("Thirst, tremor or weight gain often ease.", LATE_IF, False),           # the condition's own clause
    ("Bright light therapy is given with a lamp each morning.", NOUN, True),  # a relative clause said of its noun
    ("A nurse will usually measure your pulse before the first session.", FRONTED, True),  # fronted phrase moved
    ("A nurse will measure your pulse before the first session.", FRONTED, False),  # "usually" dropped
    ("The spray can cause a sudden rise in blood pressure.", RARE, False),   # "In rare cases" dropped
    ("Short walks are generally safer than long runs.", GROUP, False),       # "For people who ..." dropped
    ("Sessions usually take place with the three nurses who run the clinic.", COUNT, False),  # a number word
    ("This drowsiness generally fades within an hour.", AND_CLAUSE, True),   # the clause after ", and"
    ("Augmentation does not mean that you have a psychotic illness.", NAMED, True),  # named by its appositive
    ("Swimming may lift mood within a few weeks.", EITHER, True),            # one of "A, B or C" under "may"
    ("Swimming lifts mood within a few weeks.", PLAIN, False),               # ... not of a plain "A, B or C"
])
def test_shortenings_a_copying_decoder_writes(claim, source, supported):
    result = verify(claim, source)
    assert result.supported is supported, result.reason


CONTRAST = "Some patients feel better within a day, whereas others only benefit after the third infusion."
LIKE = "Ketamine acts on glutamate rather than on serotonin like most traditional antidepressants."
NOT_LIKE = "Ketamine is not addictive like opioids when it is given at the clinic."
EITHER_WHEN = "When an SSRI is reduced or stopped, some people feel dizzy for a few days."
ONLY_OR = "Psilocybin sessions are only offered in research studies or at licensed centres."
NOT_OR = "We do not recommend stopping or reducing antidepressants without advice."
CERTAIN = ("Esketamine is not suitable for everyone, and people with certain heart conditions or a history of "
           "stroke are generally not offered it.")
TAPER = "Lithium levels are checked often, and patients are asked to taper it off slowly if they stop."
RARE_END = "Ketamine can be given to adults with depression, or to adolescents in rare cases."


@pytest.mark.parametrize("claim,source,supported", [
    ("Other patients only benefit after the third infusion.", CONTRAST, True),   # "others" of "some patients"
    ("Some patients only benefit after the third infusion.", CONTRAST, True),
    ("Other patients feel better within a day.", CONTRAST, False),               # not the clause "others" opens
    ("Ketamine acts on glutamate rather than on serotonin.", LIKE, True),        # a trailing comparison goes
    ("Ketamine is not addictive.", NOT_LIKE, False),                             # ... not after a negation
    ("When an SSRI is stopped, some people feel dizzy for a few days.", EITHER_WHEN, True),  # one alternative
    ("Psilocybin sessions are only offered in research studies.", ONLY_OR, False),  # "only A or B" is not "only A"
    ("We do not recommend stopping antidepressants without advice.", NOT_OR, True),  # one alternative under "not"
    ("People with a history of stroke are generally not offered esketamine.", CERTAIN, True),  # with its "certain"
    ("Patients are asked to taper off lithium slowly if they stop.", TAPER, False),  # "it" is not the first subject
    ("Ketamine can be given to adolescents.", RARE_END, False),                  # "in rare cases" kept at the end
])
def test_references_alternatives_and_comparisons(claim, source, supported):
    result = verify(claim, source)
    assert result.supported is supported, result.reason


CONCESSION = ("Although mirtazapine helps sleep, it is not licensed as a sleeping tablet, and your psychiatrist "
              "will usually only prescribe it when depression or anxiety is also present.")
PREVIOUS = ("Unlike SSRIs, which mainly act on serotonin, bupropion is thought to raise dopamine. Your psychiatrist "
            "may suggest it if you have felt tired or slowed down.")
SSRIS = ("Some antidepressants, particularly SSRIs, appear to dampen the effects of psilocybin, so participants are "
         "often asked to taper them off over several weeks.")
SPRING = "Light therapy is usually continued until spring, when natural daylight increases."
IF_LATER = "Light therapy is usually continued, when your psychiatrist agrees, until spring."
ALSO_CALLED = "Light therapy, also called bright light therapy, involves sitting near a special lamp each morning."
SETTLE = "These side effects often settle after a few days, or when the session is shortened."


@pytest.mark.parametrize("claim,source,supported", [
    ("Mirtazapine is not licensed as a sleeping tablet.", CONCESSION, True),  # "it": the earlier clause's subject
    ("Your psychiatrist will usually only prescribe mirtazapine when depression or anxiety is also present.",
     CONCESSION, True),
    ("Your psychiatrist will usually only prescribe a sleeping tablet when depression is also present.",
     CONCESSION, False),                                                     # an object is never the antecedent
    ("Your psychiatrist may suggest bupropion if you have felt tired or slowed down.", PREVIOUS, True),  # last sentence
    ("Your psychiatrist may suggest SSRIs if you have felt tired or slowed down.", PREVIOUS, False),  # not a subject
    ("Participants are often asked to taper off SSRIs over several weeks.", SSRIS, True),  # the subject's appositive
    ("Participants are often asked to taper off psilocybin over several weeks.", SSRIS, False),
    ("Participants are often asked to taper off the effects over several weeks.", SSRIS, False),
    ("Light therapy is usually continued until spring.", SPRING, True),      # a relative "when", said of spring
    ("Light therapy is usually continued until spring.", IF_LATER, False),   # ... a condition stays
    ("Light therapy involves sitting near a special lamp each morning.", ALSO_CALLED, True),  # a naming aside goes
    ("These side effects often settle after a few days.", SETTLE, True),     # one of two alternative ways
])
def test_pronouns_and_clauses_read_off_the_parse(claim, source, supported):
    from rag.verify.parse import available

    assert available(), "the dependency parser (spaCy, requirements.txt) is part of the claim check"
    result = verify(claim, source)
    assert result.supported is supported, result.reason


def test_a_claim_too_short_to_check_is_rejected():
    assert verify("Ketamine works.", "Ketamine works.").reason == "too short to be a claim"


def test_benchmark_is_large_enough_to_measure_one_percent():
    test = load_claims(CLAIMS_DIR / "test.jsonl")
    dev = load_claims(CLAIMS_DIR / "dev.jsonl")
    assert sum(not r["supported"] for r in test) >= 300 and len(test) + len(dev) >= 800
    # the two parts were written apart; a few obvious claims (verbatim sentences) occur in both
    assert len({r["claim"] for r in test} & {r["claim"] for r in dev}) <= 0.1 * len(test)


def test_frozen_test_part_false_accepts_stay_at_the_measured_level():
    """A regression bound (README, "The claim check"); the test part was never tuned on."""
    result = score(load_claims(CLAIMS_DIR / "test.jsonl"), new_check)
    assert result["false_accept"] <= 0.01
    assert result["true_accept_copying"] >= 0.70


def test_the_check_figures_flatten_for_the_gate_and_render():
    figures = check_figures(embedder=None)
    flat = flat_figures(figures)
    assert flat["claim_false_accept"] < flat["claim_false_accept_old_check"]
    text = "\n".join(markdown_section(figures))
    assert "old vocabulary check" in text and "Claim check" in text


def test_verify_command_prints_one_json_line_per_input(tmp_path):
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join([
        json.dumps({"claim": "TRD is associated with increased risk of suicide.", "source": TRD}),
        json.dumps({"claim": "TRD is associated with increased quality of life.", "source": TRD}),
        "not json",
        json.dumps({"claim": 3, "source": TRD}),
    ]) + "\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "rag", "verify", "--jsonl", str(path)],
                         capture_output=True, text=True, timeout=120)
    lines = [json.loads(x) for x in run.stdout.splitlines()]
    assert run.returncode == 1  # two bad lines
    assert [x.get("supported") for x in lines] == [True, False, None, None]
    assert lines[0]["evidence"] == TRD and lines[1]["reason"]
    assert "error" in lines[2] and "error" in lines[3]


def test_verify_command_names_a_missing_file(tmp_path):
    run = subprocess.run([sys.executable, "-m", "rag", "verify", "--jsonl", str(tmp_path / "none.jsonl")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "cannot read" in run.stderr and "Traceback" not in run.stderr


# What narrows the thing a statement is said of, read off the parse: dropping it says more.
@pytest.mark.parametrize("claim,source", [
    ("Roughly one in three people may have treatment-resistant symptoms.",
     "Roughly one in three people with schizophrenia may have treatment-resistant symptoms."),
    ("Some signs may suggest that a person needs professional support.",
     "Some signs may suggest that a grieving person needs professional support."),
])
def test_a_dropped_restriction_of_the_subject_is_rejected(claim, source):
    result = verify(claim, source)
    assert not result.supported and "narrows" in result.reason


@pytest.mark.parametrize("claim,source", [
    # an object may lose a modifier: rapid effects are effects
    ("Ketamine has been shown to induce antidepressant effects within hours to days of administration.",
     "Ketamine has been shown to induce rapid and robust antidepressant effects within hours to days of "
     "administration."),
    # examples of a category may go, and "other" does not narrow
    ("People who take blood thinners should only start omega-3 under medical supervision.",
     "People who take warfarin or other blood thinners should only start omega-3 under medical supervision."),
    ("Patients taking benzodiazepines are often asked to skip the dose before their appointment.",
     "Patients taking benzodiazepines such as lorazepam or diazepam are often asked to skip the dose before "
     "their appointment."),
])
def test_a_modifier_that_does_not_narrow_what_is_said_of_may_go(claim, source):
    result = verify(claim, source)
    assert result.supported, result.reason
