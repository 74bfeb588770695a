"""The safety gate: every question passes here before retrieval or the model see it.

Why rules and not a classifier: the gate must work offline, in microseconds, with no model
loaded, and clinic staff must be able to read why a message was stopped. The rules are
regular expressions over a normalised form of the message (NFKC, lower case, leetspeak in
mixed tokens undone, punctuation stripped, repeated letters collapsed), so "KIIIL mysefl",
"k i l l myself" and "su1c1dal" meet the same patterns as the plain spelling.

Order matters and is fixed (see ``assess``): crisis always wins, because a person at risk
who also asks about ketamine, or who also types "ignore your rules", must get the crisis
reply. Crisis patterns lean on first-person and intent cues ("I want to...", "my pills",
"better off without me") so that questions ABOUT suicide, overdose or dependence stay
answerable; those get a short footer with the crisis lines instead.

Everything a patient can read lives in ``messages.toml`` next to this file, so staff can
review and translate it without touching code.
"""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Literal

__all__ = ["Messages", "Verdict", "assess", "normalise"]

MESSAGES_FILE = Path(__file__).with_name("messages.toml")
# Rules run in time linear in the text (about 10 microseconds a character); longer input is cut
# here. Callers should reject long input before this anyway (the pipeline allows 1000 characters).
MAX_SCAN_CHARS = 20_000
DEFAULT_CONTEXT = {"clinic_name": "the clinic", "contact": "psychiatristdrakhildhanda.com"}

# --------------------------------------------------------------------------------------
# Scripted texts
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Messages:
    """Every scripted text a patient can see, with placeholders already filled."""

    crisis_reply: str
    crisis_footer: str
    decline_medical_advice: str
    decline_offtopic: str
    decline_injection: str
    decline_controlled_substance: str
    not_found: str
    disclaimer: str

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
def _default_messages() -> Messages:
    return Messages.load()


@dataclass(frozen=True)
class Verdict:
    """What the gate decided. ``reply`` is set for crisis/decline; ``footer`` only for allow."""

    action: Literal["allow", "crisis", "decline"]
    reason: str  # ok | sensitive_topic | crisis | medical_advice | offtopic | injection | controlled_substance
    reply: str | None = None
    footer: str | None = None


# --------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
# Look-alike Cyrillic and Greek letters, so "kіll" typed with a Cyrillic і still reads "kill".
_CONFUSABLES = str.maketrans("аеорсухіѕјкмтвнοαικνρτυ", "aeopcyxisjkmtbhoaikvptu")
_LEET = str.maketrans("013457@$!|", "oieastasil")
_LEET_CHARS = "0-9@$!|"
_UNIT = re.compile(r"\d+(?:[.,]\d+)?(?:mg|g|kg|ml|mcg|ug|x|st|nd|rd|th|s|h|hr|hrs|am|pm|min|mins|yo|yrs|lbs|k)?")


def _unleet(token: str, aggressive: bool = False) -> str:
    """Undo leetspeak ("su1c1de", "k!ll") but leave numbers and units ("50mg", "3rd") alone.

    ``aggressive`` also rewrites tokens like "d13" or "b12"; only the crisis check reads that form.
    """
    core = token.strip(".,!?;:\"'()[]{}<>")
    if not core or _UNIT.fullmatch(core) or not re.search(r"[a-z]", core):
        return token
    if aggressive:
        return token.replace(core, core.translate(_LEET))
    flanked = re.search(rf"[a-z][{_LEET_CHARS}]+[a-z]", core)
    touching = re.search(rf"[a-z][{_LEET_CHARS}]|[{_LEET_CHARS}][a-z]", core)
    if not flanked and (re.search(r"\d{2,}", core) or not touching):
        return token  # "rot13", "covid19", "b12" are names, not leetspeak
    return token.replace(core, core.translate(_LEET))


def _base(text: str, aggressive: bool = False) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_QUOTES).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.translate(_CONFUSABLES)
    text = re.sub(r"(\w)'(\w)", r"\1\2", text)  # i'm -> im, don't -> dont
    text = re.sub(r"\bcan ?not\b", "cant", re.sub(r"\bdo not\b", "dont", re.sub(r"\bwill not\b", "wont", text)))
    return " ".join(_unleet(t, aggressive) for t in text.split())


def _finish(text: str) -> str:
    text = re.sub(r"[.!?;:,\n]+", " . ", text)  # clause boundaries stay visible as " . "
    text = re.sub(r"[^a-z0-9. ]+", " ", text)  # hyphens, quotes, emoji ... become spaces
    text = re.sub(r"([a-z])\1+", r"\1", text)  # "kill" -> "kil", "waaaant" -> "want"
    text = re.sub(r"(?: \.)+", " .", re.sub(r"\s+", " ", text))
    return text.strip(" .")


def normalise(text: str) -> str:
    """The form every pattern is written against: "I'm SOOO tired!!" -> "im so tired"."""
    return _finish(_base(text))


def _joined(text: str, aggressive: bool = False) -> str:
    """Spaced-out letters joined ("k i l l" -> "kill", "I-g-n-o-r-e" -> "ignore")."""
    base = _base(text, aggressive)
    base = re.sub(r"\b[a-z](?:[-_.* ]+[a-z]\b){2,}", lambda m: re.sub(r"[-_.* ]", "", m.group()), base)
    return _finish(base)


def _decoded(text: str) -> list[str]:
    """Readable text hidden in base64 or hex runs, or written backwards."""
    out = []
    for blob in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if _readable(raw):
            out.append(raw.decode("ascii"))
    for blob in re.findall(r"(?:[0-9a-fA-F]{2}[\s:]?){8,}", text):
        try:
            raw = bytes.fromhex(re.sub(r"[\s:]", "", blob))
        except ValueError:
            continue
        if _readable(raw):
            out.append(raw.decode("ascii"))
    return out


def _readable(raw: bytes) -> bool:
    if len(raw) < 8:
        return False
    printable = sum(32 <= b < 127 for b in raw)
    letters = sum(chr(b).isalpha() for b in raw if b < 128)
    return printable == len(raw) and letters >= 0.6 * len(raw) and b" " in raw


# --------------------------------------------------------------------------------------
# Patterns
# --------------------------------------------------------------------------------------
# Patterns are written in plain spelling ("kill", "better off", "im", "dont": apostrophes are
# dropped by normalise) and collapsed the same way the text is, so "kill" matches "kil",
# "kill" and "kiiill" alike. <NAME> tokens are expanded from _MACROS first.

_AUX_WORDS = """am m are was were be being been have has had hav ve do does did can cant cannot could
couldnt will wont would wouldnt should shouldnt might may must just really so still keep keeps kept
always often sometimes constantly again also even actually seriously honestly literally genuinely
think thought thinking feel felt feeling like want wanted wanting wanna need needed to going gonna
gona planning plan planned trying tried try start started starting began stop stopped ever more
kind kinda sort of considering contemplating having get getting got ready decided wish wished hope
hoping secretly now tonight today soon lately recently urge urges the an a some strong constant
daily frequent these recurring intense passive active actively passively quite pretty extremely
very all time thoughts i im ive id ill about my and snap lose losing control it took take taken""".split()

_MEDS = """meds medication medications medicine medicines antidepressant antidepressants ssri ssris
snri snris pills tablets dose dosage prescription treatment sertraline zoloft fluoxetine prozac
escitalopram lexapro citalopram celexa paroxetine paxil venlafaxine effexor duloxetine cymbalta
bupropion wellbutrin mirtazapine lithium quetiapine seroquel lamotrigine aripiprazole abilify
esketamine spravato ketamine clonazepam xanax alprazolam lorazepam ativan diazepam valium benzos
benzo trazodone amitriptyline nortriptyline vortioxetine trintellix desvenlafaxine pristiq
olanzapine risperidone antipsychotic antipsychotics stabiliser stabilizer""".split()

_CONDITIONS = """depression depressed trd resistant bipolar ptsd anxiety disorder ocd adhd illness
psychosis psychotic schizophrenia burnout dysthymia mdd autism borderline bpd""".split()

_MACROS = {
    # First person, not directly after a question word ("can i", "what if i" ask, they don't tell).
    "<FP>": r"(?<!\bcan )(?<!\bcould )(?<!\bwould )(?<!\bwill )(?<!\bmight )(?<!\bdo )(?<!\bdid )"
            r"(?<!\bif )(?<!\bwhen )(?<!\bwhether )(?<!\bshould )\b(?:i|im|ive|id|ill|i m|i ve)\b",
    "<AUX>": r"(?: (?:" + "|".join(_AUX_WORDS) + r")){0,6}",
    "<SELF>": r"(?:m[iy]? ?s(?:el|le|e|l)?f\w*|meself|my own self)\b(?! of\b| out\b| short\b| some slack| up\b)",
    "<KILL>": r"\bk(?:i|l|e)?l(?:ing|in|ed|s)?\b",
    "<DIE>": r"(?:die|dye|di|dy|dei)\b(?! (?:my|your|her|his|it|the|their|from|of|because|due))",
    "<SUI>": r"(?:\bsu[iy]?[cs][iy]?d\w*|\bsewer ?slide\w*|\bunalive\w*|\bself delet\w*)",
    "<WANT>": r"(?:want|wnat|wan|wana|wanna|whant|wnt|wants|wanted|wanting)",
    "<TO>": r"(?:to|2|ta)",
    "<INTENT>": r"(?:going to|gonna|gona|goin to|finna|about to|planning to|planning on|plan to|plan is to|"
                r"ready to|decided to|tempted to|trying to|try to|want to|wanna|wana|wish i could|need to|"
                r"have to|feel like|thinking about|thinking of|think about|considering|will|might|gotta|"
                r"going to just|just want to|just wanna)",
    "<VICTIM>": r"(?:him|her|them|someone|somebody|people|everyone|everybody|all of them|them all|others|"
                r"other people|strangers|a lot of people|this guy|that guy|you|"
                r"(?:my|the|a|our|this|that) (?:\w+ ){0,2}?(?:wife|husband|son|daughter|kids?|children|baby|"
                r"babies|mom|mum|mother|dad|father|parents?|boss|coworkers?|co workers?|neighbou?rs?|partner|"
                r"girlfriend|boyfriend|ex|family|brother|sister|teacher|classmates?|roommate|landlord|"
                r"colleagues?|manager|doctor|therapist|person|stranger|kid|child|guy|woman|man|class|school))\b",
    "<REL>": r"(?:friend|best friend|son|daughter|kid|child|brother|sister|sibling|mom|mum|mother|dad|"
             r"father|wife|husband|partner|girlfriend|boyfriend|fiance|fiancee|roommate|cousin|uncle|"
             r"aunt|grandma|grandpa|grandmother|grandfather|colleague|coworker|classmate|teen|teenager|"
             r"niece|nephew|neighbor|neighbour|parent|ex)",
    "<MEDS>": r"(?:" + "|".join(_MEDS) + r")",
    "<COND>": r"(?:" + "|".join(_CONDITIONS) + r")",
    "<DRUG>": r"(?:psilocybin|psilocibin|psilocin|magic mushrooms?|magic shrooms?|mushrooms?|shrooms?|"
              r"cubensis|spores?|truffles|lsd|acid|tabs?|blotters?|ketamine|ket|special k|mdma|molly|"
              r"mandy|ecstasy|xtc|e pills|dmt|ayahuasca|mescaline|peyote|psychedelics?|esketamine|2cb)",
    "<TREAT>": r"(?:ketamine|esketamine|spravato|psilocybin|mushrooms|shrooms|psychedelics?|psychedelic therapy|"
               r"mdma|lsd|ect|tms|infusions?|treatment|therapy|therapies|medication|meds|drug|it|this|that|"
               r"they|these|those|one)",
}


def _rx(*patterns: str) -> re.Pattern[str]:
    src = "|".join(f"(?:{p})" for p in patterns)
    for _ in range(2):  # macros may use macros
        for name, value in _MACROS.items():
            src = src.replace(name, value)
    src = re.sub(r"(?<!\\)([a-z])\1+", r"\1", src)  # collapse letters, as the text is collapsed
    return re.compile(src)


CRISIS = _rx(
    # killing / harming oneself, any wording
    r"<KILL> ?<SELF>",
    r"\b(?:hurt\w*|harm\w*|cut|cuts|cutting|hang|hanging|hung|shoot|shooting|stab\w*|drown\w*|poison\w*|"
    r"burn|burned|burnt|burning|starv\w*|suffocat\w*|strangl\w*|slit\w*|bleed\w*|gas|electrocut\w*|"
    r"overdos\w*|punish\w*|destroy\w*) ?<SELF>",
    r"\b(?:to|gonna|gona|wanna|wana|should just|ill|will|might|gotta) of <SELF>",
    r"\b(?:end|ending|ended|take|taking|took) (?:my|me) (?:own )?l[iy]fe?\b",
    r"\bend (?:it|things|everything|this) (?:all|tonight|today|now|soon|forever|for good|once and for all)\b",
    r"<FP><AUX> (?:end|ending) (?:it|things|everything|my l[iy]fe)\b(?! with)",
    r"\b(?:kms|ctb)\b",
    r"(?:<WANT>|wish|hope|pray\w*|begging|need) (?:\w+ ){0,3}?(?:would|to|could|will) (?:just )?<KILL> me\b",
    r"<KILL> me (?:now|please|already)\b",
    # suicidal thoughts, first person
    r"<FP><AUX> (?:commit |attempt |attempted |try |tried )?<SUI>",
    r"(?:^|\. )(?:feeling|feel|been|keep|kept|having|thinking|getting|constantly|always|still|so|very|really|"
    r"seriously|actively|kinda|im|am)(?: (?:feeling|been|having|thinking|about|of|so|very|really|more|constantly|"
    r"again|lately|such|strong|some|passive|active|actively)){0,4} <SUI>",
    r"\bmy (?:\w+ )?<SUI> (?:thoughts|feelings|ideas|urges|plan|plans|attempt|attempts|ideation|note)\b",
    r"\bmy (?:thoughts|plans?) (?:of|about) <SUI>",
    r"\b(?:thoughts|thinking|thought|dreaming|fantasi[sz]ing|obsessing) (?:of|about) (?:ending|taking) (?:it|my|"
    r"things|everything)\b",
    r"<FP><AUX> (?:self ?harm\w*|self ?injur\w*)\b",
    r"\bmy (?:\w+ )?self ?harm\w*\b",
    r"<FP><AUX> cutting (?:myself|again|my (?:arms?|wrists?|legs?|thighs?|skin|body))\b",
    r"\b(?:started|start|starting|back to|relapsed?) (?:\w+ )?(?:cutting|self harm\w*)\b",
    r"<FP><AUX> (?:thinking|think|thought|dreaming|fantasi[sz]ing|obsessing) (?:about|of) (?:dying|death|being dead|"
    r"not existing|not waking up|my funeral|suicide|ending)\b",
    # wanting to die / not to live
    r"(?<!\bdont )(?<!\bnot )(?<!\bnever )(?<!\bwhy )(?<!\bpeople )\b(?:<WANT>|ready|going|gonna|gona|plan|planning|"
    r"deserve|about|rather|wish i could|want|wanna|longing|long) (?:<TO> )?(?:just |really |to |be )?(?:<DIE>|be dead)",
    r"\b(?:i|im|just)\b(?: \w+){0,2}? (?:wanna|wana) (?:<DIE>|be dead)",
    r"\b(?:dont|do not|no longer|never) (?:\w+ )?(?:<WANT>|wish) (?:<TO> )?(?:live|be alive|exist|be here|wake up|"
    r"go on|carry on|keep going|keep living|be around)\b(?! (?:with|in|near|without|abroad|there|like that))",
    r"<FP><AUX> (?:disappear|vanish|not exist|stop existing|cease to exist|not be alive|stop living|stop breathing|"
    r"be gone|not be here|not wake up)\b(?! from| in)",
    r"\bwish (?:i|id|that i) (?:was|were|had|could|would|wasnt|werent|never|didnt|just|be|"
    r"could just) (?:\w+ ){0,2}?(?:dead|gone|die|died|born|disappear|sleep forever|wake up|exist|existed|alive|"
    r"not exist)\b",
    r"\b(?:rather|better)(?: off)? (?:be )?(?:dead|gone)\b|\bshould (?:be|have been) dead\b|\bshould have died\b",
    r"\b(?:dont|do not|never) deserve to (?:live|be alive|exist|be here)\b|\bdeserve to die\b",
    r"\bshouldnt (?:be alive|exist|be here)\b",
    r"\b(?:sleep forever|never wake up|not wake up|dont wake up|wont wake up|not to wake up)\b",
    r"\btired of (?:living|being alive|life|existing|being here|everything|it all|fighting)\b",
    r"\b(?:done|finished|over) (?:with )?(?:life|living|being alive|everything|it all|this life)\b",
    r"\b(?:life|living|my life|it all|it)\b(?: \w+){0,2}? (?:isnt|is not|not|aint|no longer|never|"
    r"wont be) worth (?:living|it anymore|going on|the pain|staying alive|fighting for|it)\b",
    r"\bnot worth living\b",
    # no point / no reason / can't go on
    r"\b(?:no|whats the|what is the|wheres the|is there (?:a|any)|(?:dont|cant|do not|cannot) (?:see|find|"
    r"think of) (?:a|the|any)|"
    r"see no|lost (?:the|my|all)|no more|without (?:a|any)) (?:point|reason|purpose|use|will)\b(?: in| of| to|"
    r" for)? (?:going on|living|life|being alive|being here|carrying on|staying alive|existing|waking up|keep going|"
    r"keeping going|to live|to go on|to keep going|to stay alive|to carry on|to exist|anymore|anything anymore|"
    r"me being here|in anything|it all anymore|for me)\b",
    r"\b(?:whats|what is|wheres) the point (?:anymore|now|of anything|of it all|of me|in anything)\b",
    r"\b(?:no|without|lost the|lost my|dont have a|dont have any|any|cant find a|cant find any|give me a|give me one|"
    r"one) (?:good )?(?:reason|will|reasons) (?:to|for) (?:live|living|stay alive|keep going|go on|carry on|be alive|"
    r"wake up|get up|exist|keep living)\b",
    r"\bnothing (?:left )?to live for\b|\bnothing (?:left )?(?:for me|here for me)(?: here| anymore| in this world)?$",
    r"\b(?:if|whether) i live or die\b",
    r"\b(?:walk|walking|jump|jumping|drive|driving|step|stepping|run|running|swim|swimming|throw myself) "
    r"(?:into|in to|in front of|out into|of|off) (?:the |a )?(?:sea|ocean|river|lake|traffic|oncoming traffic|train|"
    r"tracks)\b",
    r"\bcant face (?:another day|tomorrow|life|living|going on|it anymore|this anymore|another morning|waking up)\b",
    r"\b(?:dont|cant|do not|cannot) (?:see|imagine|picture) (?:myself|me) (?:being |still )?(?:alive|here|around|"
    r"living|making it)\b",
    r"\bput an end to (?:it all|everything|my life|it|things|myself|my suffering|all of this|this life|my existence)\b",
    r"\bdont (?:\w+ )?care (?:if|whether) i (?:wake up|live|<DIE>|make it|survive|am alive|exist|see tomorrow)\b",
    r"\b(?:with|holding|have|got|grabbed) (?:a |my |the )?(?:knife|blade|razor|gun|rope|noose)\b(?: \w+){0,4}? "
    r"(?:thinking|want|wana|going|gona|about to|ready|cut|cutting|end|use it)\b",
    r"\b(?:made up my mind|my mind is made up|decided|determined|resolved) (?:to )?(?:<DIE>|end it|end my life|"
    r"<KILL> myself|go through with it)",
    r"\b(?:close to|near|on the verge of|on the edge of|about to|ready for|so close to) (?:ending|<KILL>ing|"
    r"taking) (?:it|my life|myself|things|everything)\b",
    r"\bending (?:it all|it|things|everything|my life)(?:$| \.| tonight| soon| now| today| this)",
    r"<FP><AUX> cutting(?:$| \.| tonight| again)",
    r"\b(?:take|taking|swallow\w*|took|down|downing) (?:all|every|the whole|a whole|all of) (?:\w+ ){0,2}?(?:<MEDS>|"
    r"\w+) (?:at once|in one go|together|at the same time)\b",
    r"\b(?:<WANT>|going|gonna|gona|about|ready|planning|plan) (?:<TO> )?jump(?:$| \.| tonight| now| off\b| from\b|"
    r" in front\b)",
    r"\bcant (?:go on|keep going|carry on|do this anymore|take it anymore|take this anymore|live like this|"
    r"handle (?:it|this|life) anymore|cope anymore|keep living|bear (?:it|this) anymore|stand being alive|do life|"
    r"do this any more|keep doing this)\b",
    r"\bno way out\b",
    # farewells, means, plans
    r"\b(?:wont|not going to|not gonna|wont still|dont think ill|dont think i will|doubt ill|doubt i will|might not|"
    r"may not|probably wont|wont even) be (?:around|here|alive)\b(?: \w+){0,2}? (?:longer|long|anymore|tomorrow|"
    r"next \w+|by \w+|for much longer|much longer|this time next \w+)\b",
    r"\b(?:wont|not going to|not gonna|dont think ill|dont think i will|doubt ill|doubt i will) (?:\w+ )?be alive\b",
    r"\b(?:better|easier|happier)(?: of)? without (?:\w+ \w+ like )?me\b",
    r"\b(?:better|easier|happier)(?: of)? if i (?:was|were|wasnt|werent|didnt|did not|was not|were not|"
    r"just)?\s?(?:dead|gone|not here|not around|never born|exist|died|disappeared|here|around|alive|never existed|"
    r"left for good)\b",
    r"\b(?:notice|care|miss me|matter)\b(?: \w+){0,2}? (?:if|when) (?:i|im) (?:was |were |am |)?(?:gone|dead|died|"
    r"disappeared|not here|not around)\b",
    r"\b(?:this is|heres|here is) (?:my )?(?:goodbye|final message|last message|last goodbye)\b",
    r"\bgoodbye (?:everyone|everybody|forever|world|cruel world|all)\b|\bsaying (?:my )?goodbyes?\b",
    r"\b(?:suicide|goodbye|farewell) (?:notes?|letters?)\b|"
    r"\b(?:wrote|written|writing|write|left|leaving|leave|finished|recorded|recording) (?:\w+ ){0,2}?"
    r"(?:suicide|goodbye|farewell|final|last) (?:notes?|letters?|messages?|emails?|texts?|videos?)\b",
    r"\b(?:giving|gave|give|given) away (?:all )?(?:of )?my (?:stuff|things|belongings|possessions|pets|cat|dog|"
    r"savings)\b",
    r"\b(?:saving|saved|save|hoarding|hoarded|collecting|collected|stockpil\w*|stashing|"
    r"stashed)(?: up)? (?:\w+ ){0,3}?(?:pills|tablets|meds|medication|medications|sleeping pills|painkillers|doses)\b",
    r"\b(?:pills|tablets|meds) (?:saved|stashed|stockpiled|hoarded|collected) up\b",
    r"\b(?:got|have|collected|saved|stored|bought) enough (?:\w+ )?(?:pills|tablets|meds|medication|ketamine|rope)\b",
    r"\b(?:take|taking|swallow|swallowing|took|swallowed|down|downing) (?:all|every|the whole|a whole|a bunch of|"
    r"too many|all of|a lot of|lots of|loads of) (?:\w+ ){0,2}?(?:my |the |these |those |of )?(?:\w+ )?(?:pills?|"
    r"tablets?|meds|medication|bottle|pack|packet|box)\b",
    r"\bpills in my hand\b",
    r"\b(?:how many|how much)\b(?: \w+){0,6}? (?:to|would|will|does|do|it) (?:\w+ ){0,2}?(?:<KILL> (?:me|myself|"
    r"a person|someone|you)|<DIE>|be fatal|overdose|od|end it|not wake up|stop (?:my|your) heart)",
    r"\b(?:dose|pills|tablets|mg|amount|much|many|enough)\b(?: \w+){0,4}? (?:would|will|could|to|"
    r"enough to) (?:\w+ )?<KILL> me\b",
    r"\b(?:easiest|quickest|fastest|best|least painful|painless|surest|most effective|simplest|quick|easy|peaceful|"
    r"quiet) (?:way|ways|method|methods) (?:to|of) (?:<DIE>|dying|<KILL>|end (?:it|my|things)|commit|suicide|overdose|"
    r"od|go)\b",
    r"\bways? to <KILL> (?:myself|me)\b|\bhow (?:do|can|could|would|should|to) (?:i )?(?:overdose|od|<KILL> myself|"
    r"end my life|commit suicide|end it)\b",
    r"\b(?:<INTENT>|plan is to|plan was to) (?:just )?(?:overdose|od|o d)\b",
    r"<FP><AUX> (?:overdos\w*|od|ode|od d)\b",
    r"\b(?:jump|jumping|jumped|leap|leaping) (?:off|of|from|in front of|infront of|under) (?:a|the|my|this|"
    r"that) (?:\w+ )?(?:bridge|building|roof|rooftop|cliff|balcony|train|bus|car|truck|tower|window|ledge|car park|"
    r"parking)\b",
    r"\b(?:standing|sitting|stood) (?:on|at) (?:a|the) (?:edge|ledge|bridge|roof|rooftop|cliff|balcony|tracks)\b",
    r"\b(?:step|stepping|walk|walking|throw myself) in front of (?:a|the) (?:train|bus|car|truck)\b",
    r"\b(?:drive|driving|crash|crashing) (?:my car )?(?:into|of) (?:a|the) (?:wall|tree|bridge|river|oncoming|cliff|"
    r"truck)\b",
    r"\bslit (?:my )?(?:wrists?|throat)\b|\bnoose\b|\bgun to my head\b|\bblow my brains out\b|\bbullet (?:in|"
    r"through) my (?:head|brain)\b",
    r"\b(?:i|im)\b(?: \w+){0,3}? (?:a burden|such a burden|a waste of space|a waste of oxygen)\b|\bburden (?:to|on|"
    r"for) (?:everyone|everybody|my family|the people|them|others|all)\b",
    r"\b(?:im|i am|i m) not safe\b|\bdont feel safe (?:with|around|by) myself\b|\bnot safe (?:with|around) myself\b",
    r"\b(?:might|going to|gonna|gona|will|about to|scared ill|afraid ill|worried ill|ill) do something (?:stupid|"
    r"drastic|bad|dangerous|terrible|i regret|i cant take back|to myself|permanent)\b",
    r"\b(?:want|wish|hope|need) (?:it all|everything|it|my life|this|the pain|this pain|all of this|"
    r"everything) (?:to )?(?:end|be over|stop forever|stop permanently|stop for good|to end|to be over|finished)\b",
    r"\bdeath (?:would be|is|seems|feels|sounds) (?:like )?(?:a |the )?(?:relief|better|best|only|answer|way out|"
    r"escape|peace|easier)\b",
    r"\bmy last (?:day|night|week) (?:on earth|alive|here|in this world)\b|\blast night on earth\b",
    # more ways people say it: means at hand, methods, farewells, reports of an act
    r"\bhow (?:to|do i|can i|could i|would i|should i) (?:just )?end (?:it|things|everything|my l[iy]fe)\b",
    r"\b(?:<DIE>|dying|end (?:it|things|everything|my life)|go) (?:painlessly|peacefully|quietly|"
    r"quickly and painlessly)\b",
    r"\b(?:thinking (?:of|about)|looking (?:up|at|for|into)|researching|research|googling|searching|searched|"
    r"reading about|read up on|found)"
    r"\b(?: \w+){0,2}? (?:ways?|methods?|how|means) (?:to|of) (?:<DIE>|dying|<KILL>|end (?:it|things|my life)|commit|"
    r"overdose|od)\b",
    r"\b(?:imagining|imagine|picturing|planning|plan|thinking about|dreaming about|dream about) my (?:own )?funeral\b",
    r"\b(?:pills|meds|tablets|medication|bottle) (?:are |is )?(?:in front of me|in my hand|lined up|counted out|"
    r"ready to take)\b",
    r"\b(?:why|what reason) (?:should|would|do|must) i (?:even )?(?:bother )?(?:keep|kep|carry on|go on|stay|"
    r"continue)(?: on)? (?:living|existing|going|alive|breathing|trying)\b",
    r"\bshould i (?:even )?(?:keep|carry on|go on|continue) (?:living|existing|being alive)\b",
    r"\b(?:decided|made up my mind)\b(?: \w+){0,3}? (?:tonight|today|this weekend|tomorrow) is the (?:night|day)\b|"
    r"\b(?:tonight|today) is the (?:night|day)$",
    r"\b<SUI> (?:ideation|thoughts|feelings|urges|thinking) (?:all|every|each|most|this|since|again|tonight|lately|"
    r"recently|for (?:weeks|days|months|years))\b",
    r"\b(?:favou?r|relief|blessing|kindness)\b(?: \w+){0,4}? (?:if i|by|when i) (?:just )?(?:dying|died|die|was gone|"
    r"were gone|disappeared|<KILL> myself|left for good|ended it)\b",
    r"\buntil (?:i|im) (?:die|am dead|stop breathing|dont wake up|pass out for good)\b|<SELF> to death\b",
    r"\b(?:only|best|easiest|last|one) (?:way out|escape|option|solution|answer|choice|exit)\b(?: \w+){0,2}? (?:is|"
    r"would be|seems|left is) (?:death|dying|to die|suicide|ending it|<KILL>ing myself)\b",
    r"\bdeath (?:is|seems|feels like|would be) (?:the|my) (?:only|best|easiest|last) (?:way|option|answer|escape|"
    r"solution|choice)\b",
    r"\b(?:bought|got|have|tied|found|hung|ready|set up|prepared|made|holding)\b(?: \w+)? (?:a |the |my )?(?:rope|"
    r"noose)\b",
    r"\b(?:have|got|holding|bought|loaded)\b(?: \w+)? (?:a |my |the )?(?:gun|pistol|rifle|knife|blade|"
    r"razor)\b(?: \w+){0,6}? (?:use it|on myself|end it|do it|to my head)\b",
    r"<FP><AUX> (?:cut|slit|slashed|sliced|scratched|burned|burnt|stabbed) (?:my|both my|into my) (?:wrists?|arms?|"
    r"legs?|thighs?|skin|throat|stomach)\b",
    r"\b(?:took|swallowed|taken|downed|had) (?:like |about |around |over |almost )?(?:\d+|twenty|thirty|forty|fifty|"
    r"a hundred|dozens of|all (?:of )?my|a handful of|way too many|too many)"
    r"(?: \w+){0,2}? (?:pills|tablets|caps|capsules|of my (?:\w+ )?(?:pills|tablets|meds|<MEDS>))\b",
    r"\bwant out of (?:life|this life|everything|it all|existence|this world)\b|\bgive up on (?:life|living|"
    r"everything|myself)\b|\bhate (?:being alive|living|existing)\b",
    # danger to others
    r"<FP><AUX> (?:<KILL>|murder\w*|hurt\w*|harm\w*|stab\w*|shoot\w*|strangl\w*|chok\w*|beat up|beat|beating|"
    r"attack\w*|poison\w*|smother\w*|drown\w*|punch\w*|rape|torture\w*|slaughter\w*|bomb\w*|blow up|burn|"
    r"run over) (?:up )?<VICTIM>",
    r"\b(?:thoughts|urges?|fantasies|impulses?|images|thinking) (?:of|to|about) (?:<KILL>\w*|hurting|harming|stabbing|"
    r"shooting|strangling|drowning|smothering|poisoning|killing) <VICTIM>",
    r"\bshoot (?:up )?(?:the|my|a|this) (?:school|office|place|class|church|mosque|temple|mall|clinic|party|work)\b",
    # someone else at risk right now
    r"\bmy (?:\w+ )?<REL>s?\b(?: \w+){0,2}? (?:is|s|has|was|keeps|kept|wants|wanted|said|says|told me|talks|talked|"
    r"is talking|threatened|threatens|is threatening|tried|attempted|just|might|will|could|texted|messaged|posted|"
    r"wrote)\b(?: \w+){0,5}? (?:<SUI>|(?:<KILL>|hurt\w*|harm\w*|cut\w*) (?:himself|herself|themselves|themself)|"
    r"end (?:his|her|their) (?:own )?life|end it|overdos\w*|took an overdose|self harm\w*)",
    r"\b(?:he|she|they)(?: s| is| are| has| have|s)?(?: \w+){0,3}? (?:going to|gonna|gona|wants to|want to|"
    r"planning to|threatening to|about to|tried to|trying to|will|might) (?:<KILL>|hurt|harm|cut|end) (?:himself|"
    r"herself|themselves|his life|her life|their life|it all)\b",
)

# ABOUT these topics: answered, with the crisis lines in a footer.
SENSITIVE = _rx(
    r"<SUI>|\bself ?harm\w*|\bself ?injur\w*|\boverdos\w*|\bod\b|\blethal\w*|\bfatal\w*|\bdeaths?\b|"
    r"\b(?:die|dies|died|dying|dead|deadly)\b|<KILL>|\bmurder\w*|\bharm(?:ing|ed)?\b|\bhurt(?:ing)?\b|"
    r"\bpoison\w*|\bcutting\b|"
    r"\bown life\b|\btake (?:their|his|her) (?:own )?life\b|\bend (?:their|his|her) life\b"
)

CONTROLLED = _rx(
    # where / how to acquire, with an acquisition verb that is not about treatment
    r"\b(?:where|how|who|which (?:site|website|shop|store|vendor|dealer|app)|what (?:site|website|app|shop|store|"
    r"vendor)|"
    r"anyone know|know (?:a|any|where|someone)|can (?:i|you|someone)|could (?:i|you)|best (?:place|site|way|website|"
    r"vendor|source)|"
    r"cheapest|safest place|is it possible to|i (?:want|need|would like) to|id like to|tell me)\b(?: \w+){0,6}? "
    r"(?:buy|buying|purchase|purchasing|order|ordering|source|sourcing|score|scoring|cop|grow|growing|cultivate|"
    r"cultivating|cook|cooking|synthesi[sz]e|synthesi[sz]ing|extract|extracting|forage|foraging|harvest|harvesting|"
    r"pick|picking|smuggle|smuggling|import|sells?|selling|make|making|brew|brewing)\b(?: \w+){0,4}? <DRUG>\b",
    r"\b(?:where|how) (?:\w+ ){0,3}?<DRUG> (?:\w+ ){0,2}?(?:grow|be found in the wild|be bought|be ordered|sold|"
    r"be grown|for sale)\b",
    r"\b(?:buy|order|purchase|get|getting|find|obtain|source|score)\b(?: \w+){0,4}? <DRUG>\b(?: \w+){0,4}? "
    r"(?:online|without (?:a |any )?(?:prescription|script|doctor)|no prescription|cheap|cheaply|near me|discreet|"
    r"shipping|from a dealer|on the street|illegally|dark ?web|darknet|telegram|in bulk|in the wild|locally)\b",
    r"\b(?:get|getting|find|obtain|source)\b(?: \w+){0,3}? (?:some|a gram of|grams of|an eighth of|a tab of|tabs of|"
    r"a bag of|a baggie of|a point of) <DRUG>\b",
    r"<DRUG> (?:dealer|dealers|plug|vendor|vendors|connect|supplier|suppliers|grow kit|grow kits|spore syringe|"
    r"spore print|for sale|street price)\b",
    r"\b(?:dealer|dealers|plug|vendor|supplier)s? (?:for|of|with|who sells?|that sells?) <DRUG>\b",
    r"\b(?:dark ?web|darknet|silk road|black market)\b(?: \w+){0,6}? <DRUG>\b|<DRUG>\b(?: \w+){0,6}? (?:dark ?web|"
    r"darknet|silk road|black market)\b",
    r"\bwho (?:sells|has|deals|can sell|could sell|can get me|could get me)\b(?: \w+){0,3}? <DRUG>\b",
    r"\b(?:can|could|will|would) you (?:sell|give|get|send|ship|find|source) me\b(?: \w+){0,3}? <DRUG>\b",
    r"\bstreet (?:price|value|cost) of <DRUG>|\b(?:spore syringe|spore print|monotub|pf tek|grow tent for mushrooms)\b",
)

INJECTION = _rx(
    r"\b(?:ignore|ignoring|disregard\w*|forget|forgetting|override|overriding|bypass\w*|skip|drop|abandon|neglect|"
    r"set aside|throw out|get rid of|turn off|switch off|disable|deactivate|remove|lift|break|circumvent|evade|"
    r"dont follow|do not follow|stop following|no longer follow|stop obeying|dont obey|violate)"
    r"(?: (?:all|any|of|the|your|ur|these|those|previous|previously|prior|above|earlier|preceding|initial|original|"
    r"system|safety|current|existing|default|content|every|programmed|built in|given|internal|hidden|clinic|clinics|"
    r"that|this|such|mentioned|stated|said|whatever|entire|whole))* (?:instructions?|instruct\w*|rules?|guidelines?|"
    r"prompts?|directions|restrictions?|guardrails?|guard rails|filters?|filtering|policies|policy|programming|"
    r"training|constraints?|limitations?|limits|safety|protocols?|directives?|settings|context|safeguards?|"
    r"boundaries|ethics|moderation|censorship|system|article|articles|sources|everything (?:above|before|earlier|"
    r"you were told|so far|i said))\b",
    r"\b(?:reveal|print|show|display|repeat|output|leak|dump|share|copy|recite|list|paste|write out|spell out|"
    r"translate|expose|give me|tell me|send me|return|echo|summari[sz]e|what (?:is|are|was|were)|"
    r"whats)\b(?: \w+){0,4}? "
    r"(?:(?:the|your|ur) )?(?:system|initial|hidden|secret|internal|original|developer|pre|meta|base|underlying|full|"
    r"exact|starting|first) ?(?:prompt|instructions?|message|rules|configuration|config|directives|guidelines|setup|"
    r"context)\b",
    r"\b(?:reveal|print|show|display|repeat|output|leak|dump|share|copy|recite|list|paste|write out|spell out|"
    r"translate|expose|give me|tell me|send me|echo|what (?:is|are|was|were)|whats)\b(?: \w+){0,3}? (?:your|ur) "
    r"(?:\w+ )?(?:prompt|instructions|programming|directives|configuration|config|guidelines|rules|training data|"
    r"source code|settings|hidden rules)\b",
    r"\bsystem ?prompt\b|\bpre ?prompt\b|\binitial prompt\b|\bprompt (?:injection|leak\w*)\b",
    r"\bwhat (?:were|have|are) you (?:been )?(?:told|instructed|programmed|trained|given)\b",
    r"\b(?:repeat|print|output|copy|recite|show|echo|write)\b(?: (?:\w+|\.)){0,6}? (?:above|before this|so far|"
    r"from the (?:start|beginning)|verbatim|word for word)\b",
    r"\binstructions? (?:that )?you (?:received|were given|got|have|follow|were told|are following)\b",
    r"\byou are now\b|\byoure now\b|\bu r now\b|\bfrom now on\b(?: \w+){0,3}? (?:you|u|ur|your)\b|"
    r"\bfrom now on (?:act|answer|respond|reply|speak|talk|pretend|ignore)\b",
    r"\b(?:pretend|imagine|suppose|presume|act like|behave like|play the role of|play the part of|take on the role of|"
    r"assume the role of)\b(?: that)? (?:you are|youre|you were|u r|ur|to be (?:a|an|my|the)|you have no|there are no|"
    r"you re)\b",
    r"\b(?:you|u|please|now|just|can you|could you|i want you to|id like you to|i need you to) (?:act|behave|respond|"
    r"answer|talk|speak|reply) (?:as|like) (?:a|an|my|the|if|though)\b|^act as\b",
    r"\brole ?play\w*\b|\bstay in character\b|\bin character\b|\bcharacter mode\b",
    r"\bdo anything now\b|\b(?:you are|youre|as|be|become|called|named|play|activate|enable) dan\b|\bdan (?:mode|"
    r"prompt)\b",
    r"\b(?:developer|dev|god|debug|admin|maintenance|unrestricted|jailbreak|jailbroken|unlocked|unfiltered|uncensored|"
    r"evil|chaos|opposite|sudo|root|super ?user) mode\b",
    r"\bjail ?break\w*|\bunfiltered\b|\buncensored\b|\bsudo\b",
    r"\b(?:you|u|ai|assistant|bot|chatbot|model|doctor|psychiatrist|answer|respond|reply|act|pretend)\b(?: \w+){0,4}? "
    r"(?:with|have|has|had|without) (?:no |any |your )?(?:limits|restrictions|rules|filters|guardrails|boundaries|"
    r"ethics|morals|censorship|content policy|safety (?:rules|filters|guidelines))\b",
    r"\bunrestricted (?:ai|assistant|bot|model|chatbot|mode|version|access)\b",
    r"\b(?:decode|decrypt|deobfuscate|unscramble) (?:this|the following|it|these|that|from)\b|"
    r"\b(?:base ?64|rot ?13|hex ?encoded|hexadecimal|binary code|morse code|caesar cipher|leetspeak|leet speak|"
    r"pig latin)\b|"
    r"\b(?:read|write|spell\w*|answer|say|type) (?:it |this |that |everything )?(?:backwards|in reverse)\b",
    r"\b(?:i am|im|this is) (?:your|ur|the) (?:\w+ )?(?:developer|creator|admin|administrator|programmer|maker|"
    r"supervisor)\b",
    r"\b(?:admin|administrator|developer|creator) (?:override|access|mode|command|privileges?|rights|code|password|"
    r"key)\b|"
    r"\b(?:override|unlock|master|secret|access|admin|bypass) (?:code|password|key|token|phrase|command)\b|"
    r"\bauthori[sz]\w* (?:you|u) to\b|\bi (?:order|command|instruct|authori[sz]e|direct) you\b|"
    r"\byou (?:must|have to|will|shall) (?:obey|comply|do as i say|do what i say|answer everything|answer anything)\b|"
    r"\byou have no choice\b|\b(?:youre|you are) (?:allowed|permitted|authori[sz]ed) to\b",
    r"\b(?:your|ur) new (?:task|role|job|instructions?|rules?|purpose|identity|persona|name|goal|objective|mission|"
    r"prompt)\b|"
    r"\bnew (?:instructions?|directives?|system prompt|persona)\b|\bupdated instructions\b|"
    r"\b(?:switch|change|swap) (?:your|ur) (?:persona|personality|identity|role|character|mode)\b|"
    r"\b(?:switch|change|swap) (?:to|into) (?:a |an )?(?:new |different |another )?(?:persona|personality|identity|"
    r"character)\b",
    r"\b(?:show|give|list|send|reveal|print|tell me|dump|export|access|read|share)\b(?: \w+){0,3}? "
    r"(?:(?:other|previous|last|earlier|another|all) (?:users?|patients?|persons?|peoples?|people)s? "
    r"(?:questions?|messages?|chats?|conversations?|data|records|names|details|info|information|emails|histor\w*)|"
    r"(?:patient|patients|user|users|training) (?:data|records|database|files|list|emails|phone numbers|names))\b",
    r"\bwhat did (?:the )?(?:previous|last|other|another|earlier) (?:user|person|patient|people)\b",
    r"\b(?:answer|respond|reply|talk|speak|write)\b(?: \w+){0,3}? (?:without|with no|ignoring|not using) "
    r"(?:citing |any |the )?(?:citations?|sources?|articles?|references?|checking|grounding|safety|disclaimers?|"
    r"warnings?|filters?)\b|"
    r"\b(?:dont|do not|never|stop|no need to) (?:cite|use|mention|add|include|check|quote|refer to|stick to|follow|"
    r"consult) "
    r"(?:any |the |your )?(?:sources?|articles?|citations?|disclaimers?|warnings?|documents?|references?|"
    r"knowledge base)\b|"
    r"\buse your own (?:knowledge|opinion|judgement|judgment|training)\b|"
    r"\bmake (?:something|stuff|it|one|an answer|things|some facts) up\b|\bmake up (?:an? |some )?(?:answer|facts|"
    r"something|story|study|studies|numbers|statistics)\b|"
    r"\binvent (?:an? |some )?(?:answer|facts|something|studies|study|numbers)\b",
    r"\bpwned\b|\bhacked\b|\b(?:reply|respond|answer) (?:only )?with (?:the words|exactly|only)\b|\bsay exactly\b",
    r"\b(?:grandma|grandmother|granny|nana|grandpa|grandfather)\b(?: \w+){0,4}? (?:used to|would|always) (?:tell|read|"
    r"recite|say|sing|whisper|explain|give)\w*\b",
    r"\bevil (?:twin|assistant|bot|ai|version|persona|character)\b|\bopposite day\b|"
    r"\bsimulat\w* (?:a |an )?(?:unrestricted|unfiltered|evil|different|other|jailbroken)\b|"
    r"\b(?:you are|youre|pretend to be|act as) (?:a |an )?(?:different|another|new|unrestricted|unfiltered|evil|rogue|"
    r"free|licensed) (?:ai|assistant|bot|model|chatbot|persona|entity|psychiatrist|doctor|physician|pharmacist)\b",
)

# Raw-text markers of chat templates and fake system turns (checked before punctuation is stripped).
INJECTION_RAW = re.compile(
    r"<\|?\s*/?\s*(?:im_start|im_end|system|endoftext|eot_id|start_header_id|end_header_id)\b|\[/?inst\]|<</?sys>>|"
    r"</?\s*(?:context|system|instructions?|prompt|sources?)\s*>|"
    r"(?m:^\s*#{2,}\s*(?:system|instruction|new instruction))|(?m:^\s*(?:system|developer)\s*(?:prompt|message)?\s*:)",
    re.IGNORECASE,
)

MEDICAL = _rx(
    # dosing
    r"\bhow (?:much|many|often|long|frequently|regularly)\b(?: \w+){0,6}? (?:should|shall|can|could|do|must|would|may|"
    r"ought) i "
    r"(?:take|use|have|dose|microdose|get|give myself|inject|snort|drink|eat|consume|try|be on|stay on|keep taking|"
    r"continue|need)\b"
    r"(?<!would i get)",
    r"\bhow (?:much|many)\b(?: \w+){0,4}? (?:for me|would i need|do i need|should i|is safe for me|is right for me|"
    r"can i handle)\b",
    r"\b(?:what|which)\b(?: \w+){0,3}? (?:dose|dosage|amount|strength|mg|milligrams|medication|medicine|meds|"
    r"antidepressant|"
    r"drug|pill|treatment|therapy|one)\b(?: \w+){0,3}? (?:should|shall|can|could|do|must|would|will|may) i\b"
    r"(?! (?:be given|be offered|get|receive|typically|usually|be started on|start on))",
    r"\b(?:what|which) (?:\w+ ){0,2}?(?:should|shall|could|can) i (?:take|use|try|start|get|be on|switch to|change to|"
    r"go on|choose)\b",
    r"\bis my (?:\w+ ){0,2}?(?:dose|dosage|medication|meds|prescription|treatment) (?:\w+ ){0,3}?(?:too|right|ok|okay|"
    r"safe|enough|correct|high|low|wrong)\b",
    r"\b(?:enough|too much|too little|too high|too low|right|correct|safe|safer|best|ideal|suitable|appropriate|good|"
    r"an option|a good option|dangerous|risky|bad|okay|ok|fine|a good idea|worth it|"
    r"too risky)(?: \w+)? for me\b(?! to (?:read|understand|learn|call|contact|visit|book))",
    # stopping, switching, combining
    r"\b(?:should|shall|can|could|may|must|do|would|will) i (?:\w+ ){0,2}?(?:stop|quit|come off|get off|go off|taper|"
    r"wean|"
    r"discontinue|switch|change|replace|swap|skip|reduce|cut down|lower|increase|raise|double|halve|ditch|give up|"
    r"cease|pause|restart|adjust|up)\b(?!(?: \w+){0,3} (?:appointment|booking|slot|date|time|email|details|address|"
    r"number|consultation))",
    r"\bshould i\b(?! (?:book|call|contact|email|message|visit|read|bring|prepare|expect|know|ask|reach|"
    r"go to the clinic|do if|do when|say))",
    r"\b(?:stop|stopping|quit|quitting|come off|coming off|get off|getting off|go off|going off|taper\w*|wean\w*|"
    r"discontinu\w*|switch\w*|chang\w*|replac\w*|swap\w*|skip\w*|reduc\w*|cut\w* down|increas\w*|doubl\w*|halv\w*|"
    r"lower\w*|rais\w*|adjust\w*|mix\w*|combin\w*) (?:\w+ ){0,3}?my (?:\w+ ){0,2}?<MEDS>\b",
    r"\b(?:take|taking|use|using|mix|mixing|combine|combining|drink|drinking|have|having|start|"
    r"starting)\b(?: \w+){0,3}? "
    r"(?:with|on|alongside|while on|while taking|and|instead of) my (?:\w+ ){0,2}?<MEDS>\b",
    r"\bi (?:want|wanna|need|plan|am planning|m planning|am going|m going|gonna|am thinking|m thinking|am considering|"
    r"m considering|decided|have decided|ve decided|would like|d like|am about|m about|intend|am trying|m trying|wish) "
    r"(?:to |about |of )?(?:stop\w*|quit\w*|come off|coming off|get off|go off|going off|taper\w*|wean\w*|"
    r"discontinu\w*|"
    r"switch\w*|replac\w*|swap\w*|skip\w*|ditch\w*)\b",
    r"\b(?:can|could|would|will) (?:you|u) (?:please )?(?:prescribe|recommend|suggest|advise)\b(?: \w+){0,3}? (?:me|"
    r"for me|i|my)\b|\bprescribe (?:me|for me)\b",
    # self-treatment
    r"\b(?:microdos\w*|trip\w*|self medicat\w*|self treat\w*|dose|dosing|take|taking|use|using|try|trying|do|doing|"
    r"eat|eating)\b"
    r"(?: \w+){0,4}? (?:myself|by myself|on my own|at home|alone|without (?:a |any )?(?:doctor|psychiatrist|therapist|"
    r"supervision|guide|sitter|professional|medical supervision))\b",
    r"\bhow (?:do|can|could|should|would|to) (?:i )?(?:start )?(?:microdos\w*|self medicat\w*|trip on|guide my own|"
    r"run my own|do my own)",
    r"\b(?:treat|cure|fix|help|heal|medicate) (?:my|mine) (?:own )?(?:depression|anxiety|ptsd|trd|condition|"
    r"mental health|"
    r"symptoms|mood)\b(?: \w+){0,4}? (?:with|using|by taking|by using|at home|myself|on my own|by myself)\b",
    # diagnosis
    r"\b(?:do|could|might|would|can|did|should) i (?:\w+ ){0,2}?(?:have|be suffering from|suffer from|be having|"
    r"qualify as having|"
    r"be diagnosed with|count as having|be)\b(?: \w+){0,4}? <COND>\b",
    r"\bam i (?:\w+ ){0,2}?(?:<COND>|mentally ill|sick|normal|crazy|having a breakdown)\b",
    r"\bis (?:my|mine) (?:\w+ ){0,2}?(?:depression|condition|case|illness|anxiety|diagnosis|symptoms?)\b(?: \w+){0,3}? "
    r"(?:treatment resistant|resistant|severe|serious|bad enough|normal|curable|trd|real|clinical|considered)\b",
    r"\b(?:does|would|could|might|do) (?:my|mine) (?:\w+ ){0,3}?(?:count as|qualify as|mean i have|mean im|sound like|"
    r"make me|considered)\b",
    r"\bi think i (?:might |may |could )?(?:have|be|am|m|ve got) (?:\w+ ){0,3}?<COND>",
    r"\b(?:whats|what is) wrong with me\b|\bdiagnose me\b",
    r"\b(?:think|believe|wonder if|suspect|afraid|worried|feel like|guess|sure|possible) (?:that )?i (?:might |may |"
    r"could )?(?:have|be|am|m|ve got|ve)\b(?: \w+){0,3}? <COND>\b",
    r"\b(?:im|i am|i m) \d+(?: years old| yo| y o| yrs old)?\b(?: \.)?(?: \w+){0,3}? (?:can|could|should|may|would|"
    r"am) i\b",
    r"\b(?:what|which)\b(?: \w+){0,3}? (?:do|would|can|could) (?:you|u) (?:recommend|suggest|advise|prescribe)\b",
    r"\bwhat (?:to|should i) do (?:about|with) my (?:\w+ )?<MEDS>\b",
    # eligibility
    r"\bam i (?:a |an )?(?:\w+ ){0,2}?(?:candidate|fit|eligible|suitable|qualified|good match|right person)\b",
    r"\b(?:do|would|could|can|will) i (?:\w+ )?(?:qualify|be eligible|be a candidate|be suitable|be accepted|"
    r"be approved|benefit)\b",
    r"\b<TREAT>\b(?: \w+){0,3}? (?:work|works|help|helps|be effective|be right|be safe|be suitable|be an option|"
    r"be good|benefit|"
    r"be beneficial|be dangerous|be risky|cure|fix) (?:for )?(?:me|someone like me|people like me|my case|my situation|"
    r"my condition|my depression|my anxiety|my ptsd|my trd|my son|my daughter|my child|my wife|my husband|my mom|"
    r"my mother|"
    r"my dad|my father|my partner)\b(?! understand| learn| find| book| contact| read| with (?:the|this) article)",
    r"\b(?:for|in) (?:someone|people|a person|patients) like me\b|\b(?:in|given|considering|"
    r"because of) my (?:\w+ ){0,2}?"
    r"(?:case|situation|history|condition|diagnosis|age|weight|symptoms|medical history|circumstances|health)\b",
    r"\b(?:im|i am|i m)\b(?: \w+){0,2}? (?:pregnant|breastfeeding|breast feeding|nursing a baby|trying to conceive|"
    r"trying for a baby)\b",
    r"\bi (?:have|ve got|ve had|ve been diagnosed with|was diagnosed with|m diagnosed with|am diagnosed with|"
    r"suffer from|"
    r"m on|am on|take|m taking|am taking|had)\b(?! (?:a |one |some |few |another |quick |couple of |"
    r"couple )*(?:question|queries|query|questions|doubt|doubts))"
    r"(?: (?:\w+|\.)){0,10}? (?:can|could|should|may|would|will) i (?:still |safely |even |also |then )?(?:take|have|"
    r"get|use|try|do|"
    r"start|mix|combine|drink|continue|stop|receive|go on|be given|qualify|benefit)\b",
    r"\b(?:can|could|should|may|would) i (?:still |safely |even |also )?(?:take|have|get <TREAT>|use|try|do|receive|"
    r"start|be given|"
    r"go on|drink|breastfeed)\b(?: \w+){0,4}? (?:if|while|when|since|as|though|even though|given|because|after|before|"
    r"with) (?:i|im|my|ive|it)\b",
)

# Words that put a message inside the clinic's domain (health, mental health, treatments, the clinic).
DOMAIN = _rx(
    r"\b(?:depress\w*|anxi\w*|mental\w*|mood\w*|psych\w*|therap\w*|treat\w*|medic\w*|drugs?|dos(?:e|es|ing|age)|pills?|"
    r"tablets?|prescri\w*|doctors?|dr|physician\w*|nurse\w*|clinic\w*|hospital\w*|appointments?|consult\w*|sessions?|"
    r"ketamine|esketamine|spravato|psilocybin|mushrooms?|shrooms?|lsd|mdma|ecstasy|dmt|ayahuasca|serotonin|dopamine|"
    r"nmda|glutamate|receptors?|brain\w*|neuro\w*|ssris?|snris?|antidepress\w*|side effects?|health\w*|ill|illness\w*|"
    r"sick\w*|symptoms?|disorders?|diagnos\w*|conditions?|bipolar|ptsd|trauma\w*|ocd|adhd|schizo\w*|panic|stress\w*|"
    r"sleep\w*|insomnia|suicid\w*|self harm|overdos\w*|addict\w*|dependen\w*|abuse|withdrawal|cravings?|relapse\w*|"
    r"infusions?|nasal spray|anesthe\w*|anaesthe\w*|dissociat\w*|hallucin\w*|studies|study|research\w*|trials?|"
    r"evidence|"
    r"articles?|blog|dhanda|akhil|patients?|counsel\w*|grief|lonel\w*|sad\w*|hopeles\w*|emotion\w*|cbt|ect|tms|"
    r"electroconvulsive|pregnan\w*|breastfe\w*|alcohol|pain|heart|cure\w*|recover\w*|remission|wellbeing|well being|"
    r"wellness|burnout|fatigue|memory|mindful\w*|meditat\w*|microdos\w*|fda|controlled substances?|schedule i|"
    r"psilocin|trd|mdd|sertraline|fluoxetine|lithium|escitalopram|venlafaxine|lexapro|zoloft|prozac|"
    r"exercise|blood|headache\w*|nausea|vomit\w*|tired|exhausted|lonely|grieving|worried|worry|scared|afraid|"
    r"feel|feeling|feelings|help line|helpline|crisis|emergency)\b",
)

# Clearly outside the clinic's domain, unless a domain word is also there.
OFFTOPIC = _rx(
    r"\b(?:weather|forecast|raining|rain|snow|sunny|recipes?|cook|cooking|bake|baking|pasta|pizza|biryani|curry|dal|"
    r"makhani|cake|cookies|dinner ideas|python|javascript|typescript|java|sql|html|css|code|coding|programs?|"
    r"programming|function|algorithm|compile|compiler|debug|regex|github|leetcode|excel|spreadsheet|football|soccer|"
    r"cricket|basketball|baseball|tennis|nba|nfl|ipl|fifa|world cup|premier league|match|score|scores|who won|"
    r"homework|essay|math|maths|equation|algebra|calculus|geometry|integral|derivative|physics|chemistry|poem|poems|"
    r"poetry|haiku|limerick|sonnet|songs?|lyrics|rap|jokes?|riddles?|stor(?:y|ies)|novel|movies?|films?|netflix|"
    r"tv show|series|anime|capital of|president|prime minister|election|stocks?|bitcoin|crypto|invest\w*|mortgage|"
    r"flights?|hotels?|vacation|holiday|travel|visa|translate|cars?|engine|tyres?|tires?|iphone|android|laptop|"
    r"computer|wifi|wi fi|router|printer|password|cover letter|resume|horoscope|zodiac|astrology|lottery|celebrity|"
    r"games?|minecraft|fortnite|chess|pokemon|garden\w*|time zone|what time is it|population|tallest|largest|"
    r"how far|speed of light|dinosaurs?|planets?|solar system|history of|world war|times|plus|minus|divided by|"
    r"square root|percent of|calculate|convert|kilometers|miles|fahrenheit|celsius|currency|exchange rate|diets?|"
    r"weight loss|lose weight|losing weight|lose fat|six pack|abs|"
    r"muscles?|gym|workout|bodybuilding)\b",
)

# Creative or unrelated tasks: declined even when they name a domain word ("a poem about depression").
TASK = _rx(
    r"\b(?:write|compose|create|generate|make up|draft|give me|tell me|sing|come up with)\b (?:me |us )?(?:a |an |"
    r"some |another )?"
    r"(?:short |funny |little |quick |nice |sad |rhyming |happy |new )?(?:poem|poems|haiku|limerick|sonnet|song|"
    r"lyrics|rap|"
    r"story|stories|joke|jokes|riddle|essay|code|script|program|function|novel|screenplay|tweet|cover letter|resume|"
    r"speech)\b",
    r"\b\d+ (?:times|plus|minus|divided by|x) \d+\b",
)

# Last net for crisis wording no pattern above foresaw: a clause whose subject is "I" and that
# names death or self-harm, unless it is framed as learning about the topic, negated, or a question.
_FALLBACK_SUBJECT = _rx(r"^(?:\w+ ){0,3}?<FP>")
_FALLBACK_HARM = _rx(
    r"\b<DIE>(?! to| for)|\bdying\b(?! to| for| of| inside)|\bdead\b(?! tired| on my feet| serious| set| inside| end)|"
    r"\bdeath\b|<SUI>|"
    r"<KILL> (?:myself|me)\b|\boverdos\w*|\bnot (?:wake up|exist|be here|be alive|be around)\b|\bstop existing\b|"
    r"\bend(?:ing)? (?:it|my life|everything|things)\b|\btake my (?:own )?life\b|\b(?:hurt|harm|cut)\w* myself\b|"
    r"\bself harm\w*|\bdisappear (?:forever|for good)\b"
)
_FALLBACK_FRAME = _rx(
    r"^(?:what|how|why|does|do|is|are|can|could|will|would|should|which|when|where|who|has|have|did)\b|"
    r"\b(?:read|reading|heard|hear|learn|learning|know|knowing|understand|research\w*|study|studies|report|article|"
    r"curious|interested|told|said|says|question|questions|asking|ask|wonder\w*|risks?|rates?|statistics|prevention|"
    r"survivor\w*|lost (?:my|a|our)|people|patients|someone|anyone|family|friend|loved one|they|he|she|"
    r"not|never|dont|didnt|wont|afraid|scared|terified|terifies|terifying|worried|worry|fear\w*|phobia|anxious|if|"
    r"whether|film|movie|book|novel|game|character|"
    r"phone|battery|plant|plants|laptop|car|dream|dreamt|joke|joking|kidding|lol jk)\b"
)

_REFERS = re.compile(r"\b(?:it|its|that|this|they|them|those|these|one|ones|same|else|more)\b")


# --------------------------------------------------------------------------------------
# The gate
# --------------------------------------------------------------------------------------


def assess(message: str, history: Sequence[Mapping[str, str]] = (), messages: Messages | None = None) -> Verdict:
    """Decide what happens to one patient message.

    Order: crisis > controlled substance > injection > personal medical advice > off-topic >
    allow (with the crisis footer when the message is about suicide, self-harm, overdose or
    dependence). Crisis looks only at the current message: a crisis is never inferred from
    earlier turns, and one is never missed because of them. ``history`` only helps a short
    follow-up ("does it work for that too?") count as on-topic.
    """
    msgs = messages or _default_messages()
    message = message[:MAX_SCAN_CHARS]
    text = normalise(message)
    joined = _joined(message)
    hidden = [normalise(t) for t in _decoded(message)]
    backwards = normalise(message[::-1])
    # Extra readings for the crisis check only, where a miss costs most: "kill. my. self."
    # read without clause breaks, and "d13" read as leetspeak.
    loose = _joined(message, aggressive=True)
    loose = {loose, loose.replace(" . ", " ")} - {text, joined}

    if (any(CRISIS.search(v) or _fallback_crisis(v) for v in (text, joined, *hidden))
            or any(CRISIS.search(v) for v in loose)):
        return Verdict("crisis", "crisis", msgs.crisis_reply)
    if any(CONTROLLED.search(v) for v in (text, joined, *hidden)):
        return Verdict("decline", "controlled_substance", msgs.decline_controlled_substance)
    if (hidden or INJECTION_RAW.search(unicodedata.normalize("NFKC", message))
            or any(INJECTION.search(v) for v in (text, joined, backwards))):
        return Verdict("decline", "injection", msgs.decline_injection)
    if MEDICAL.search(text):
        return Verdict("decline", "medical_advice", msgs.decline_medical_advice)
    if _offtopic(text, history):
        return Verdict("decline", "offtopic", msgs.decline_offtopic)
    if SENSITIVE.search(text):
        return Verdict("allow", "sensitive_topic", footer=msgs.crisis_footer)
    return Verdict("allow", "ok")


def _fallback_crisis(text: str) -> bool:
    return any(_FALLBACK_SUBJECT.search(c) and _FALLBACK_HARM.search(c) and not _FALLBACK_FRAME.search(c)
               for c in text.split(" . "))


def _offtopic(text: str, history: Sequence[Mapping[str, str]]) -> bool:
    """Declined only on a clear off-topic cue and no health word: unknown wording is let through,
    because retrieval answers "not covered" safely while a wrong refusal turns a patient away."""
    if TASK.search(text):
        return True
    if not OFFTOPIC.search(text) or DOMAIN.search(text):
        return False
    last = next((t.get("content", "") for t in reversed(history) if t.get("role") == "user"), "")
    # "can I play football after it?" follows a ketamine question: the pronoun carries the topic.
    short_followup = len(text.split()) <= 12 and _REFERS.search(text)
    return not (short_followup and last and DOMAIN.search(normalise(last)))


def addressed_to_the_assistant(text: str) -> bool:
    """Does this sentence talk to the assistant ("ignore previous instructions", a fake system
    turn) rather than to a reader? Such sentences in a corpus document are a planted
    instruction: ingest leaves them out, so the model never sees them and no answer quotes them."""
    return bool(INJECTION_RAW.search(unicodedata.normalize("NFKC", text)) or INJECTION.search(normalise(text)))
