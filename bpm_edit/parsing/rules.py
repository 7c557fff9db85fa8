"""The offline rule-based instruction parser (the default parser, no model weights).

A cascade of sentence templates (`_TEMPLATES`, tried in order) over a normalised
instruction (politeness, task framings such as "is it possible to", "in the image" and
leading gerunds stripped): removals ("remove X", "there should be no X", "X must be
expunged"), replacements ("replace X with Y", "swap X for Y", "Y instead of X"),
photographic adjustments, size verbs, "what if X had Y", "give X Y", "X wears Y",
additions ("add X to Y", "let there be X"), colouring ("paint X blue"), moves,
orientation and perception tasks, transformations ("turn X into Y", "change the
background to Z") and complements ("make X Y", "X should be Y"). Phrase-level reading
(noun phrases, spatial relations, what a complement describes) is in `grammar.py`; the
word lists are in `lexicon.py`.

An instruction no template reads gives `edit_type="other"` flagged `low_confidence`;
a bare pronoun in an object slot is kept and flagged `unresolved_pronoun`, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bpm_edit.parsing import lexicon as lx
from bpm_edit.parsing.base import check_instruction
from bpm_edit.parsing.grammar import (
    NounPhrase,
    Relation,
    classify_complement,
    destination_relation,
    direction_word,
    is_pronoun,
    read_locator,
    read_noun_phrase,
    relation_at,
    size_word,
    split_relation,
    tokens_of,
    without_colors,
)
from bpm_edit.spec import WHOLE_IMAGE, EditSpec

#: Instructions longer than this are not read (real editing instructions are far shorter).
MAX_CHARS = 1000


@dataclass
class _Reading:
    """A template's answer before it becomes an `EditSpec`."""

    edit_type: str
    source: str | None = None
    target: str | None = None
    reference: str | None = None
    size: str = "unchanged"
    position: str | None = None
    locator: str | None = None
    flags: list[str] = field(default_factory=list)


_Template = Callable[[str, "_Context"], "_Reading | None"]


@dataclass(frozen=True)
class _Context:
    """Facts about the original text that lower-casing loses (proper nouns)."""

    proper_words: frozenset[str]


# ---------------------------------------------------------------- normalisation

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "`": "'"})
_POLITE = re.compile(
    r"^(?:please|kindly|can you|could you|would you|will you|can we|could we|"
    r"(?:is|would)\s+it\s+be\s+possible\s+to|is\s+it\s+possible\s+to|"
    r"it\s+is\s+(?:necessary|important|required|needed|essential|time)\s+to|"
    r"(?:make|have|get)\s+it\s+so\s+(?:that\s+)?|"
    r"(?:you|we)\s+(?:have|need|ought)\s+to|(?:you|we)\s+(?:must|should)|"
    r"(?:please\s+)?(?:be\s+sure|make\s+sure|remember|don't\s+forget)\s+to|"
    r"(?:make\s+sure|ensure|see\s+to\s+it)(?:\s+that)?(?=\s+(?:the|this|these|those|"
    r"his|her|their|its|all|every)\s)|"
    r"(?:i\s+need|i'd\s+like|i\s+want)\s+you\s+to|(?:the|your)\s+(?:task|goal|job)\s+is\s+to|"
    r"(?:modify|change|edit|alter|adjust|update)\s+(?:the\s+|this\s+)?(?:scene|image|picture|"
    r"photo|photograph)\s+(?:so\s+(?:that\s+)?|such\s+that\s+|by\s+|"
    r"to\s+(?=(?:make|add|remove|put|place|replace|give|have|let|show)\b))|"
    r"it\s+would\s+be\s+(?:nice|great|cool|good|better|lovely|awesome)\s+(?:if|to)|"
    r"i\s+(?:would\s+)?(?:like|love|want)\s+it\s+if|i\s+wish|i\s+hope|"
    r"(?:i'd|i\s+would|i)\s+(?:like|love|want)\s+to\s+see|let\s+me\s+see|show\s+me|"
    r"(?:do\s+not|don't)\s+change\s+anything\s+(?:else\s+)?(?:except|but|other\s+than|"
    r"besides)(?:\s+for)?|"
    r"(?:without|while\s+not)\s+(?:changing|altering|touching|modifying)\s+(?:anything|the\s+rest)"
    r"(?:\s+else)?|(?:let's|let\s+us)\s+see|"
    r"i want you to|i'd like you to|i would like you to|i'd like to|i would like to|"
    r"i want to|we want to|we need to|you need to|you should|you must|try to|go ahead and|"
    r"help me|let's|let us|lets|now|then|just|also|and|ok|okay|hey|so|first|finally|"
    r"simply|quickly|carefully|gently|maybe|perhaps)\b[\s,]*"
)
_POLITE_TAIL = re.compile(
    r"[\s,]*\b(?:please|thanks|thank you|for me|if possible|if you can|if you could|instead|"
    r"(?:while\s+|and\s+|but\s+)?(?:keeping|keep|leaving|leave|preserving|preserve)\s+"
    r"(?:everything|all|the\s+rest)(?:\s+else)?(?:\s+(?:the\s+same|unchanged|intact|as\s+is))?|"
    r"without\s+changing\s+(?:anything|the\s+rest)(?:\s+else)?|"
    r"(?:as|like)\s+(?:in|during|at)\s+(?:the\s+)?[a-z]+)$"
)
_GERUND = {
    "making": "make", "adding": "add", "removing": "remove", "replacing": "replace",
    "changing": "change", "turning": "turn", "putting": "put", "placing": "place",
    "moving": "move", "swapping": "swap", "giving": "give", "coloring": "color",
    "colouring": "colour", "painting": "paint", "deleting": "delete", "erasing": "erase",
    "converting": "convert", "transforming": "transform", "inserting": "insert",
    "enlarging": "enlarge", "shrinking": "shrink", "having": "have", "letting": "let",
}
_TOPIC = re.compile(
    r"^(?P<x>(?:the|this|that|these|those)\s+[^,]+),\s*(?P<rest>.*\b(?:it|them)\b.*)$"
)
_IMAGE_NOISE = re.compile(
    r"\s*\b(?:from|in|of|to|on|within|inside|into|across|throughout|for)\s+"
    r"(?:(?:the|this|that|my|our|your|an?)\s+)?"
    r"(?:(?:entire|whole|original|given|current|attached|above|following)\s+)?"
    r"(?:image|photo|photograph|picture|pic|scene|shot|snapshot)\b"
)
_RELATIVE_CLAUSE = re.compile(
    r"(?<=[a-z])(?<!\bso)(?<!\bif)(?<!\bthat)(?<!\bwhen)(?<!\bwhile)(?<!\band)(?<!\bbut)"
    r"(?<!\bas)(?<!\bsure)\s+(?:that\s+|which\s+)?(?:he|she|they|it|you)\s+(?:is|are|was|were|'s|'re)\s+"
    r"(?:wearing|holding|carrying|riding|using|eating|drinking|reading|sitting\s+on|"
    r"standing\s+on|lying\s+on|playing\s+with)(?!\s+(?:a|an|the|some|his|her|their|its|my|"
    r"two|three|\d+)\b)"
)
_POSSESSIVE_SIDE = re.compile(
    r"\b(?:on|to|at)\s+(?P<np>(?:the|his|her|their|its)\s+[\w-]+(?:\s+[\w-]+)?)'s\s+"
    r"(?P<side>left|right)(?:[\s-]+hand)?(?:\s+side)?\b"
)
_LABELLED = re.compile(
    r"^(?:new\s+)?(?P<x>background|backdrop|setting|scenery|style|art style|season|weather|"
    r"time of day|lighting|mood|theme|colou?r scheme|palette)\s*:\s*"
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\s*\n+\s*")
_LETTER = re.compile(r"[a-z]")


def _normalise(sentence: str) -> str:
    text = " ".join(sentence.translate(_QUOTES).lower().replace('"', " ").split())
    text = text.strip(" .!?;:,")
    previous = None
    while previous != text:
        previous = text
        text = _POLITE.sub("", text)
        text = _POLITE_TAIL.sub("", text)
    text = _IMAGE_NOISE.sub("", text)
    # "on the boy's right" -> "to the right of the boy"
    text = _POSSESSIVE_SIDE.sub(r"to the \g<side> of \g<np>", text)
    # "new background: a snowy forest", "style: watercolor": a labelled property
    text = _LABELLED.sub(r"change the \g<x> to ", text)
    # "the shirt he is wearing should be green": the relative clause only picks the shirt
    text = _RELATIVE_CLAUSE.sub("", text)
    first, _, rest = text.partition(" ")
    if first in _GERUND and rest:
        text = f"{_GERUND[first]} {rest}"
    return " ".join(text.split()).strip(" .!?;:,")


# ---------------------------------------------------------------- helpers

def _np(text: str | None) -> NounPhrase:
    return read_noun_phrase(text)


_WHOLE_IMAGE_PHRASE = re.compile(
    r"^(?:the\s+|this\s+|that\s+|my\s+|our\s+)?(?:(?:whole|entire|overall)\s+)?"
    r"(?:image|photo|photograph|picture|pic|scene|shot|it|this|everything|all|"
    r"style|art style|weather|season|time of day|time|lighting|mood|atmosphere|look|"
    r"aesthetic|overall look|whole thing|entire thing|color scheme|colour scheme|palette|"
    r"style of the image|look of the image)$"
)


_IMAGE_HEADS = frozenset({"image", "photo", "photograph", "picture", "pic", "scene", "shot"})


def _is_whole_image(phrase: str | None) -> bool:
    if phrase is None or not phrase.strip():
        return False
    phrase = phrase.strip()
    return _WHOLE_IMAGE_PHRASE.match(phrase) is not None or phrase.split()[-1] in _IMAGE_HEADS


def _pronoun_source(phrase: str | None) -> bool:
    return phrase is not None and phrase.strip() in ("it", "this", "that", "them", "they")


def _global() -> _Reading:
    return _Reading("style_global", WHOLE_IMAGE, WHOLE_IMAGE)


_SCENE_LEAD = re.compile(r"^(?:resemble|portray|depict|show|look like|be|feature)\s+")


def _strip_scene_words(text: str | None) -> str | None:
    if not text:
        return text
    text = _SCENE_LEAD.sub("", text)
    phrase = read_noun_phrase(text)
    return phrase.text


def _replace_target(text: str) -> tuple[str | None, str]:
    """The target phrase of a replacement and any size change it states ("a bigger dog")."""
    phrase = _np(text)
    size = "unchanged"
    if phrase.text:
        for word in phrase.text.split():
            if word in ("bigger", "larger", "smaller", "tinier", "taller", "shorter"):
                size = size_word(word) or "unchanged"
    return phrase.text, size


def _change(x_text: str, y_text: str, material_first: bool = False) -> _Reading:
    """Read "change X to Y" for any X and Y: background, whole image, colour, material,
    size, action or a replacement."""
    x_text = x_text.strip()
    if _is_whole_image(x_text):
        return _change_whole(x_text, y_text, material_first)
    if re.match(r"^where\b", x_text):
        # "change where this photo takes place to a desert": the setting
        return _Reading("background", "background", _strip_scene_words(y_text))
    source = _np(x_text)
    if source.text is None:
        return _Reading("other", flags=["low_confidence"])
    property_match = re.match(
        r"^(?:the\s+)?(colou?r|hue|shade|texture|material|size|surface|finish)\s+of\b", x_text
    ) or re.search(r"\b(colou?r|texture|material|size)$", x_text)
    if source.head in lx.BACKGROUND_WORDS:
        return _Reading("background", source.head, _strip_scene_words(y_text))
    scene = _scene_destination(y_text)
    if scene and (is_pronoun(source.text) or source.head in lx.PERSON_NOUNS):
        # "have them be in space", "the man should be in a forest": a new setting
        return _Reading("background", "background", scene)
    if source.head in lx.POSE_NOUNS:
        return _Reading("action", source.text, source.text, locator=source.locator)
    complement = classify_complement(y_text, material_first=material_first)
    kind = complement.kind
    if property_match:
        word = property_match.group(1)
        kind = {"colour": "color", "hue": "color", "shade": "color", "material": "texture",
                "surface": "texture", "finish": "texture"}.get(word, word)
        if kind == "size":
            size = _size_in(y_text)
            return _Reading("size", source.text, source.text, size=size, locator=source.locator)
    if kind == "color":
        obj = without_colors(source.text)
        return _Reading("color", obj, obj, locator=source.locator)
    if kind == "texture":
        return _Reading("texture", source.text, source.text, locator=source.locator)
    if kind == "size":
        return _Reading("size", source.text, source.text, size=complement.size,
                        locator=source.locator)
    if kind == "action":
        return _Reading("action", source.text, source.text, locator=source.locator)
    if kind == "state":
        return _Reading("other", source.text, source.text, locator=source.locator)
    if kind == "relation" and complement.relation is not None:
        return _move(source, complement.relation)
    adjectival = not re.match(r"^(?:be\s+|look like\s+|like\s+|resemble\s+)?(?:a|an|the)\s",
                              y_text)
    if kind == "global" and adjectival and (
        source.head in ("sky", "weather", "season", "time") or source.text in lx.GLOBAL_WORDS
    ):
        return _global()
    if kind == "global" and adjectival and all(
        w in lx.GLOBAL_WORDS or w in lx.STYLE_WORDS or w in lx.DEGREE_WORDS
        for w in tokens_of(y_text)
    ):
        if any(w in ("brighter", "darker", "dark", "bright", "lighter") for w in tokens_of(y_text)):
            return _Reading("color", source.text, source.text, locator=source.locator)
        return _Reading("texture", source.text, source.text, locator=source.locator)
    target_text, size = _replace_target(re.sub(r"^(?:be|become|look like|resemble)\s+", "",
                                               y_text))
    if target_text and source.head and target_text.split()[-1] in ("one", "ones"):
        # "the blue jacket -> a red one": "one" stands for the source's head noun.
        target_text = " ".join([*target_text.split()[:-1], source.head])
    target = _np(target_text) if target_text else NounPhrase(None)
    if target.head and source.head and target.head == source.head and target.text != source.text:
        extra = {
            w for w in set(target.text.split()) ^ set(source.text.split())
            if not w.endswith("'s") and w not in lx.POSSESSIVE_OF.values()
        }
        if any(w in lx.COLORS for w in extra) and all(
            w in lx.COLORS or w in lx.COLOR_FILLERS for w in extra
        ):
            obj = without_colors(source.text)
            return _Reading("color", obj, obj, locator=source.locator)
        if any(w in lx.MATERIALS for w in extra):
            return _Reading("texture", source.head, source.head, locator=source.locator)
        if any(w in lx.EXPRESSION_ADJECTIVES for w in extra):
            # "turn the happy girl into a sad girl": the expression changes
            return _Reading("action", source.head, source.head, locator=source.locator)
        # the target's own size word decides ("the small dog -> a big dog" is larger)
        added = [w for w in target.text.split() if w in extra]
        sizes = [size_word(w) for w in added if size_word(w)] or [
            "smaller" if size_word(w) == "larger" else "larger"
            for w in sorted(extra) if size_word(w)
        ]
        if sizes:
            return _Reading("size", source.head, source.head, size=sizes[0],
                            locator=source.locator)
    if target.text is None:
        return _Reading("replace", source.text, None, locator=source.locator,
                        flags=["low_confidence"])
    return _Reading("replace", source.text, target.text, size=size, locator=source.locator)


def _size_in(text: str) -> str:
    for word in tokens_of(text):
        size = size_word(word)
        if size:
            return size
    return "unchanged"


def _change_whole(x_text: str, y_text: str, material_first: bool = False) -> _Reading:
    """"make it Y" / "change the image to Y": a whole-image edit, unless Y names a
    property of an object the pronoun stands for (then the pronoun is flagged)."""
    if _scene_destination(y_text):
        return _Reading("background", "background", _scene_destination(y_text))
    complement = classify_complement(y_text, material_first=material_first)
    pronoun = _pronoun_source(x_text)
    if pronoun and complement.kind in ("color", "texture", "size", "action"):
        x = x_text.strip()
        return _Reading(complement.kind, x, x, size=complement.size,
                        flags=["unresolved_pronoun"])
    if pronoun and complement.kind == "noun":
        target = _np(re.sub(r"^(?:be|become|look like|resemble)\s+", "", y_text)).text
        if target and target.split()[-1] in lx.SCENE_NOUNS:
            return _Reading("background", "background", target)
        return _Reading("replace", x_text.strip(), target, flags=["unresolved_pronoun"])
    return _global()


def _scene_destination(y_text: str, context: _Context | None = None) -> str | None:
    """The setting Y names when Y is "in/on/at <a scene>" ("in space", "on a beach")."""
    relation = relation_at(re.sub(r"^(?:be|stand|sit|appear)\s+", "", y_text.strip()))
    if relation is None or relation.position != "inside" or relation.reference is None:
        return None
    ref = relation.reference.text
    return ref if ref and _is_scene(ref, context) else None


def _move(
    obj: NounPhrase, relation: Relation | None, context: _Context | None = None
) -> _Reading:
    """A move of `obj` to `relation`; a move "to the jungle" is a background change."""
    text = obj.text
    if relation is None:
        return _Reading("move", text, text, position="unchanged", locator=obj.locator)
    ref = relation.reference.text if relation.reference else None
    backdrop = re.match(r"^(?:\w+\s+)?(?:background|backdrop|scenery|setting)\s+of\s+(?P<s>.+)$",
                        ref or "")
    if backdrop:
        # "place the subject against a backdrop of rolling hills"
        return _Reading("background", "background", _np(backdrop["s"]).text)
    if relation.position == "inside" and ref is not None and _is_whole_image(text) and (
        classify_complement(ref.split()[-1]).kind == "global"
    ):
        return _global()  # "put the scene in the 1920s"
    if relation.position == "inside" and ref is not None and (
        _is_scene(ref, context) or _is_whole_image(text)
    ):
        # "move her to the jungle", "transport the scene to a mountain range"
        return _Reading("background", "background", ref)
    return _Reading("move", text, text, reference=ref, position=relation.position,
                    locator=obj.locator)


def _is_scene(ref: str, context: _Context | None) -> bool:
    words = ref.split()
    if words[-1] in lx.SCENE_NOUNS or ref in lx.SCENE_NOUNS:
        return True
    return context is not None and all(w in context.proper_words for w in words)


def _add(target_text: str, context: _Context, verb: str = "add") -> _Reading:
    """"add X (relation Y)": what is added, where, relative to what."""
    head_text, relation = split_relation(target_text)
    target = _np(head_text)
    if target.text is None:
        return _Reading("other", flags=["low_confidence"])
    if target.head in lx.BACKGROUND_WORDS and len(target.text.split()) > 1:
        return _Reading("background", target.head, " ".join(target.text.split()[:-1]))
    if target.head in ("filter", "effect", "style", "look", "tone", "vibe", "aesthetic",
                       "feel", "overlay", "grain", "vignette", "tint"):
        return _global()
    if relation is None:
        return _Reading("add", None, target.text, position="none")
    ref = relation.reference.text if relation.reference else None
    position = relation.position if relation.position != "unchanged" else "none"
    if ref is not None and relation.position == "inside" and _is_scene(ref, context) and (
        is_pronoun(target.text) or verb in ("put", "place", "set")
    ) and not head_text.startswith(("a ", "an ")):
        return _Reading("background", "background", ref)
    return _Reading("add", None, target.text, reference=ref, position=position)


# ---------------------------------------------------------------- templates

def _t(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_REMOVE_AND_ADD = _t(
    r"^(?:remove|delete|erase|take out|take away|get rid of|eliminate)\s+(?P<x>.+?)\s+and\s+"
    r"(?:replace\s+(?:it|them|that|those)\s+with|put|add|insert|place|draw)\s+(?P<y>.+?)"
    r"(?:\s+(?:in\s+(?:its|their)\s+place|instead|there))?$"
)


def _remove_and_add(s: str, c: _Context) -> _Reading | None:
    m = _REMOVE_AND_ADD.match(s)
    return _change(m["x"], m["y"]) if m else None


_REPLACE = _t(
    r"^(?P<verb>replace|swap out|swap|switch out|switch|exchange|trade|substitute|interchange|"
    r"supplant|trade out|change out)\s+(?P<x>.+?)\s+(?P<conn>with|by|for|to|into|and)\s+(?P<y>.+)$"
)
_REPLACE_ACTIVE = _t(
    r"^(?:let|have|make)\s+(?P<y>.+?)\s+(?:replace|supplant|substitute for|stand in for)\s+"
    r"(?P<x>.+)$"
    r"|^(?P<y2>.+?)\s+(?:replaces|supplants|(?:should|must|will|shall|could|can|needs? to|"
    r"has to)\s+(?:replace|supplant))\s+(?P<x2>.+)$"
)
_REPLACE_ALONE = _t(r"^(?:replace|swap out|substitute)\s+(?P<x>.+)$")


def _replace(s: str, c: _Context) -> _Reading | None:
    m = _REPLACE.match(s)
    if m:
        x, y = m["x"], m["y"]
        if m["verb"] == "substitute" and m["conn"] == "for":
            x, y = y, x
        return _change(x, y)
    m = _REPLACE_ACTIVE.match(s)
    if m:
        # "let a bicycle replace the car": the new object is the subject
        return _change(m["x"] or m["x2"], m["y"] or m["y2"])
    m = _REPLACE_ALONE.match(s)
    if m:
        source = _np(m["x"])
        return _Reading("replace", source.text, None, locator=source.locator,
                        flags=["low_confidence"])
    return None


#: What may open the new-object clause of "instead of X, (there should be) Y".
_NEW_THING_LEAD = re.compile(
    r"^(?:there\s+)?(?:(?:should|must|will|can|could|would)\s+)?(?:be|is|are|'s)\s+"
    r"|^(?:put|place|add|show|use|have|draw|insert|include|i want|we want|make it)\s+"
)
_TAKE_PLACE = _t(
    r"^(?:have\s+|let\s+|make\s+)?(?P<y>.+?)\s+(?:takes?|taking|should take|must take)\s+"
    r"(?:the\s+)?place\s+of\s+(?P<x>.+)$"
    r"|^(?:instead of|in place of|rather than)\s+(?P<x2>.+?),\s*(?P<y2>.+)$"
)


def _take_place(s: str, c: _Context) -> _Reading | None:
    m = _TAKE_PLACE.match(s)
    if not m:
        return None
    if m["x"]:
        return _change(m["x"], m["y"])
    y = _NEW_THING_LEAD.sub("", m["y2"])
    return _change(m["x2"], y)


_WAS_THERE = (
    r"is|are|was|were|used to be|stood|stands|sat|sits|lay|lies|is standing|was standing|"
    r"is sitting|was sitting|is now|currently is|once was"
)
_INSTEAD = _t(
    r"^(?:(?:put|place|use|have|add|insert|draw|make|show|include|there should be|"
    r"i want|let there be|let)\s+)?(?P<y>.+?)\s+(?:instead of|in place of|in lieu of|rather than|"
    rf"where)\s+(?P<x>.+?)(?:\s+(?:{_WAS_THERE}))?$"
)
_WHERE_WAS = re.compile(rf"\bwhere\b.*\b(?:{_WAS_THERE})$")
#: A posture verb after the new object ("have a horse stand where the bike was").
_POSTURE_TAIL = re.compile(r"\s+(?:stand|sit|be|appear|lie|rest|go|sit|stay)$")


def _instead(s: str, c: _Context) -> _Reading | None:
    m = _INSTEAD.match(s)
    if not m or " where " in f" {s} " and not _WHERE_WAS.search(s):
        return None
    if classify_complement(m["x"]).kind in ("color", "texture", "size"):
        # "make the flowers purple instead of red": the clause only names the old value.
        return _parse_sentence(s[: m.start("x")].rsplit(" ", 3)[0], c)
    return _change(m["x"], _POSTURE_TAIL.sub("", m["y"]))


_PASSIVE_REPLACE = _t(
    r"^(?P<x>.+?)\s+(?:should|must|needs to|has to|will|is to|are to|shall|can)?\s*"
    r"(?:be|is|are|being)?\s*(?:replaced|swapped|substituted|exchanged|switched|"
    r"swapped out)\s+(?:with|by|for|to)\s+(?P<y>.+)$"
)


def _passive_replace(s: str, c: _Context) -> _Reading | None:
    m = _PASSIVE_REPLACE.match(s)
    if not m:
        return None
    return _change(re.sub(r"^(?:have|let|get|make)\s+", "", m["x"]), m["y"])


_NO_MORE = _t(
    r"^(?:(?:ensure|make sure|be sure|see to it|check)\s+(?:that\s+)?)?(?:let\s+)?"
    r"there\s+(?:should|must|shall|will|would|can|needs? to|has to|have to|is to)?\s*"
    r"(?:be|is|are|'s|'re|remains?)?\s*(?:no|not\s+(?:be\s+)?(?:any|a|an)|nothing\s+like|"
    r"no\s+longer\s+(?:be\s+)?(?:any|a|an)?)\s*(?:longer\s+|more\s+|any\s+)?(?P<x>.+)$"
    r"|^(?:(?:ensure|make sure)\s+(?:that\s+)?)?there(?:'s|\s+is|\s+are)\s+no\s+(?P<x2>.+)$"
    r"|^(?:no more|no longer any|without(?:\s+the)?|minus(?:\s+the)?|nothing but|no)\s+(?P<x3>.+)$"
    r"|^(?:have|leave|show|keep)\s+(?:no|none of the)\s+(?P<x4>.+)$"
    r"|^(?:ensure|make sure|be sure|see to it|check)\s+(?:that\s+)?(?:no|none of the)\s+"
    r"(?P<x5>.+?)(?:\s+(?:appears?|remains?|is visible|are visible|is present|are present|"
    r"exists?|can be seen|is left|are left|shows?|is shown|are shown))?$"
    r"|^(?P<x7>.+?)\s+(?:(?:should|must|needs? to|has to)\s+)?(?:be\s+|is\s+|are\s+)?"
    r"(?:free|clear|devoid|empty)\s+of\s+(?:all\s+|any\s+)?(?P<y7>.+)$"
    r"|^(?:strip|rid|clear|free|empty|purge|cleanse)\s+(?P<x8>.+?)\s+of\s+(?:all\s+|any\s+)?"
    r"(?P<y8>.+)$"
    r"|^(?:(?:the\s+)?(?:image|photo|picture|scene|it)\s+)?(?:should|must|shall|does|do|can|"
    r"will)?\s*(?:not|n't|no\s+longer)\s+(?:contain|have|include|show|feature|depict|display)"
    r"\s+(?:any\s+)?(?P<x6>.+)$"
    r"|^(?:(?:i'd like|i would like|i want|i need|show|give me|make|keep|leave|have|render)\s+)?"
    r"(?:the\s+|this\s+)?(?:image|photo|photograph|picture|scene|it)\s+without\s+"
    r"(?:any\s+)?(?P<x9>.+)$"
)


def _no_more(s: str, c: _Context) -> _Reading | None:
    m = _NO_MORE.match(s)
    if not m:
        return None
    if m["x3"] and s.startswith("nothing but"):
        return None
    for where, what in (("x7", "y7"), ("x8", "y8")):
        if m[what]:
            reading = _removal(m[what])
            where_text = re.sub(r"^(?:make|keep|leave|let|have|get)\s+", "", m[where])
            if not _is_whole_image(where_text) and reading.locator is None:
                reading.locator = read_locator("from " + where_text)
            return reading
    return _removal(m["x"] or m["x2"] or m["x3"] or m["x4"] or m["x5"] or m["x6"] or m["x9"])


def _removal(text: str) -> _Reading:
    if re.match(r"^(?:everything|all|anything)\s+(?:except|but|other than|besides|apart from)\b",
                text):
        # "remove everything except the dog" keeps one object: no single thing to remove.
        return _Reading("other", flags=["low_confidence"])
    source = _np(text)
    if source.text is None:
        return _Reading("other", flags=["low_confidence"])
    if source.head in lx.DEGRADATIONS:
        # "remove the noise/haze/blur": a photographic restoration of the whole image.
        return _global()
    return _Reading("remove", source.text, None, position="none", locator=source.locator)


_GONE = (
    r"removed|deleted|erased|expunged|eliminated|eradicated|gone|taken away|taken out|"
    r"wiped out|wiped away|wiped off|cleared away|cleared|omitted|excluded|extracted|"
    r"disappear|disappeared|vanish|vanished|go away|absent|missing|invisible|hidden|"
    r"not there|not be there|not visible|not exist|no longer there|no longer exist|"
    r"no longer be there|no longer visible|out of the picture|edited out|cut out|"
    r"taken off|got rid of|gotten rid of|get removed|got removed|taken down|pulled down|"
    r"torn down|knocked down|cut down|pulled out|cropped out|painted out|painted over|"
    r"nowhere to be (?:seen|found)|out of sight|out of view|no longer be seen|not be seen|"
    r"(?:no longer|not|never|doesn't|does not|don't|do not)\s+(?:appears?|shows?(?:\s+up)?|"
    r"exists?|remains?|be present|be visible)|(?:is|are)\s+(?:no longer|not)\s+(?:present|visible)|"
    r"(?:can't|cannot|can not)\s+be\s+seen"
)
_PASSIVE_REMOVE = _t(
    rf"^(?P<x>.+?)\s+(?:should|must|needs? to|has to|have to|shall|will|is to|are to|can|"
    rf"ought to|would)?\s*(?:be|is|are|being|get|gets)?\s*(?:be\s+)?(?:{_GONE})\b(?P<rest>.*)$"
)
_MAKE_GONE = _t(
    r"^(?:make|let|have|get)\s+(?P<x>.+?)\s+(?:disappear|vanish|go away|be gone|gone|"
    r"be removed|removed|fade away|fade out)\b(?P<rest>.*)$"
    r"|^(?P<x2>.+?)\s+(?:disappears|vanishes|is gone|are gone|goes away|fades away|"
    r"(?:has to|have to|must|needs? to|should|gotta|can) go(?:\s+away)?)$"
)


_WANT_LEAD = re.compile(r"^(?:i|we)\s+(?:want|need|would like|'d like|wish)\s+")


def _passive_remove(s: str, c: _Context) -> _Reading | None:
    m = _MAKE_GONE.match(s)
    if m:
        return _removal(m["x"] or m["x2"])
    m = _PASSIVE_REMOVE.match(s)
    if m and not m["rest"].strip().startswith(("with", "by", "and replaced")):
        reading = _removal(_WANT_LEAD.sub("", m["x"]))
        rest = m["rest"].strip()
        if rest.startswith("from ") and reading.locator is None:
            reading.locator = read_locator(rest)
        return reading
    return None


_REMOVE = _t(
    r"^(?:get rid of|take away|take out|take off|wipe out|wipe away|wipe off|clear away|"
    r"clear out|clear off|cut out|do away with|remove|delete|erase|eliminate|expunge|"
    r"eradicate|omit|exclude|extract|ditch|discard|hide|rid the image of|rid|lose|"
    r"edit out|crop out|clean up|clean away|dispose of|subtract|banish|purge|scrub out|"
    r"scrub away|blot out|paint out|paint over|remove all traces of|obliterate|excise|efface|"
    r"annihilate|abolish|expel|evict|dispel|scrap|wipe|blank out|white out|mask out|black out|"
    r"throw out|throw away|kick out|chuck out|toss out|cut away|delete out|dispense with|"
    r"zap|nix|strip away|strip off|strip out|peel off|peel away|scrape off|scrape away|"
    r"rub out|rub off|wash away|wash off|clean off|brush away|brush off|sweep away|take)"
    r"\s+(?P<x>.+)$"
)


_TAKE_OFF = _t(
    r"^(?:take|pull|knock|brush|wipe|cut|get|pluck|pick|yank|rip|tear|snatch|lift|kick|"
    r"chase|scare|shoo|clean|sweep|wash|scrape|peel|zap|blow|push)\s+(?P<x>.+?)\s+"
    r"(?:off|away|out)"
    r"(?:\s+(?:of|from)?\s*(?P<origin>.+))?$"
)


def _remove(s: str, c: _Context) -> _Reading | None:
    take = _TAKE_OFF.match(s)
    if take and not s.startswith(("take away", "take out", "take off")):
        reading = _removal(take["x"])
        if take["origin"] and reading.locator is None:
            reading.locator = read_locator("from " + take["origin"])
        return reading
    m = _REMOVE.match(s)
    if not m:
        return None
    if s.startswith("take ") and not s.startswith(("take away", "take out", "take off")):
        return None
    text = m["x"]
    text = re.sub(r"\s+(?:out|away|off)$", "", text)
    head, _, origin = text.partition(" from ")
    reading = _removal(head if origin else text)
    if origin and reading.locator is None:
        reading.locator = read_locator("from " + origin)
    return reading


_ADJUST = _t(
    r"^(?:(?:increase|decrease|reduce|boost|lower|raise|adjust|enhance|improve|fix|correct|"
    r"balance|tweak|amplify|intensify|soften|add|remove)\s+(?:the\s+)?(?:overall\s+)?"
    r"(?:brightness|contrast|saturation|exposure|sharpness|clarity|lighting|quality|resolution|"
    r"warmth|vibrance|vibrancy|color balance|colour balance|white balance|gamma|tone|tones|"
    r"definition|detail|details|noise|grain|blur|blurriness|haze)"
    r"|(?:brighten|darken|sharpen|denoise|deblur|dehaze|lighten|saturate|desaturate|enhance|"
    r"restore|retouch|unblur|declutter|clarify|illuminate))\b(?P<x>.*)$"
)


def _adjust(s: str, c: _Context) -> _Reading | None:
    """Whole-image photographic adjustments ("brighten the image", "increase the contrast");
    "darken the sky" is a colour change of the sky."""
    m = _ADJUST.match(s)
    if not m:
        return None
    x = re.sub(r"^\s*(?:of\s+)?", "", m["x"]).strip()
    if not x or _is_whole_image(x) or x.startswith(("a bit", "slightly", "a little")):
        return _global()
    obj = _np(x)
    if obj.text is None:
        return _global()
    if re.match(r"^(?:brighten|darken|lighten|saturate|desaturate)", s):
        return _Reading("color", obj.text, obj.text, locator=obj.locator)
    return _Reading("texture", obj.text, obj.text, locator=obj.locator)


_SIZE_VERB = _t(
    r"^(?P<verb>" + "|".join(sorted(lx.ENLARGE_VERBS + lx.SHRINK_VERBS, key=len, reverse=True))
    + r")\s+(?P<x>.+)$"
)
_SIZE_TAIL = re.compile(
    r"\s+(?:by\s+.*|(?:a\s+)?(?:little|bit|lot)(?:\s+bit)?|slightly|significantly|"
    r"considerably|greatly|dramatically|twice|two-fold|twofold|in size|to .*)$"
)


def _size_verb(s: str, c: _Context) -> _Reading | None:
    m = _SIZE_VERB.match(s)
    if not m:
        return None
    verb = m["verb"]
    size = "larger" if verb in lx.ENLARGE_VERBS else "smaller"
    text = _SIZE_TAIL.sub("", m["x"])
    source = _np(text)
    if source.text is None:
        return None
    if _is_whole_image(source.text):
        return None
    return _Reading("size", source.text, source.text, size=size, locator=source.locator)


_MOVE = _t(
    r"^(?P<verb>move|shift|slide|relocate|reposition|push|drag|nudge|pull|transport|"
    r"teleport|transfer|displace|send|bring)\s+(?P<rest>.+)$"
)
_MOVE_ADVERB = re.compile(
    r"\s+(?:(?:a\s+)?(?:little|tiny|bit|lot)(?:\s+bit)?|slightly|further|farther|more|"
    r"somewhat|way|all the way|far|much|over|back|a few (?:inches|feet|steps|pixels)|"
    r"a short distance)(?=\s|$)"
)


_PROPERTY_CHANGE = re.compile(
    r"^(?P<x>(?:the\s+)?(?:colou?r|hue|shade|tone|texture|material|size|style|look)\s+of\s+.+?)"
    r"\s+(?:to|into)\s+(?P<y>.+)$"
)


def _move_template(s: str, c: _Context) -> _Reading | None:
    m = _MOVE.match(s)
    if not m:
        return None
    rest = _MOVE_ADVERB.sub("", " " + m["rest"]).strip()
    if m["verb"] == "bring" and rest.startswith(("in ", "back ")):
        return None
    if m["verb"] == "bring" and re.match(r"^(?:a|an|some|\d+)\s", rest):
        return _add(rest, c)  # "bring a Renaissance feel to the image", "bring a dog to ..."
    prop = _PROPERTY_CHANGE.match(rest)
    if prop:
        # "shift the color of the leaves to gold": a property changes, nothing moves
        return _change(prop["x"], prop["y"])
    if m["verb"] == "shift" and " into " in f" {rest} ":
        return None
    words = rest.split()
    if (len(words) > 1 and direction_word(words[-1]) and words[-2] not in lx.DETERMINERS
            and words[-2] not in ("to", "toward", "towards", "far", "very", "of", "on", "at")):
        # "move the cat on the left up": a bare direction after the object (and locator).
        obj = _np(" ".join(words[:-1]))
        relation = Relation(direction_word(words[-1]) or "unchanged", None, words[-1])
        return _move(obj, relation, c)
    head_text, relation = destination_relation(rest)
    for i, word in enumerate(words[1:], start=1):
        if word == "closer" and i + 1 < len(words) and words[i + 1] == "to":
            break
        after = words[i + 1] if i + 1 < len(words) else None
        if not direction_word(word) or words[i - 1] in lx.DETERMINERS:
            continue
        if relation is None or after in ("in", "on", "within", "across", "inside", "along"):
            # "move the moon higher in the sky": the direction, within the frame it names
            return _move(_np(" ".join(words[:i])),
                         Relation(direction_word(word) or "unchanged", None, word), c)
    obj = _np(head_text)
    if obj.text is None:
        return None
    return _move(obj, relation, c)


_WHAT_IF = _t(
    r"^(?:what if|how about|what about|"
    r"what would (?:it|this|things|the (?:image|photo|picture)) look like if|imagine if|"
    r"imagine that|imagine|suppose that|suppose|supposing|how about if|"
    r"what would happen if|if only|how would it look if|(?:what|how) would .+? look(?: like)? if|"
    r"could)\s+(?P<rest>.+)$"
)
_LOOK_LIKE_IF = _t(r"^(?:what|how) would (?P<x>.+?) look(?: like)? if (?P<rest>.+)$")
_THERE_WAS = _t(r"^there\s+(?:was|were|is|are|'s|had been|would be)\s+(?P<y>.+)$")
_HAD = _t(
    r"^(?P<x>.+?)\s+(?:had|has|have|wore|wears|was wearing|were wearing|is wearing|"
    r"are wearing|got|held|was holding|were holding|carried|owned|sported|put on)\s+(?P<y>.+)$"
)
_WAS = _t(
    r"^(?P<x>.+?)\s+(?:was|were|is|are|became|becomes|turned into|looked like|"
    r"could be|would be|be)\s+(?P<y>.+)$"
)


def _what_if(s: str, c: _Context) -> _Reading | None:
    m = _WHAT_IF.match(s)
    if not m:
        return None
    rest = m["rest"]
    look = _LOOK_LIKE_IF.match(s)
    if look:
        # "what would the car look like if it were green": the pronoun is the car
        rest = re.sub(r"^(?:it|they|he|she)\b", look["x"], look["rest"])
    if s.startswith("could ") and not re.match(r"^(?:it|this|that|they)\s+be\b", rest):
        return None
    rest = re.sub(r"^(?:it|this|that|they)\s+(?:could\s+)?be\s+", "it was ", rest)
    t = _THERE_WAS.match(rest)
    if t:
        return _add(t["y"], c)
    t = _HAD.match(rest)
    if t:
        return _worn(t["x"], t["y"], c)
    t = _WAS.match(rest)
    if t and (_is_whole_image(t["x"]) or is_pronoun(t["x"])) and _scene_destination(t["y"], c):
        # "what if it was in Paris": a new setting
        return _Reading("background", "background", _scene_destination(t["y"], c))
    if t:
        return _change(t["x"], re.sub(r"^(?:made\s+(?:out\s+)?of)\s+", "made of ", t["y"]),
                       material_first=True)
    if " as " in f" {rest} ":
        reading = _transform(f"reimagine {rest}", c)
        if reading is not None:
            return reading
    return _parse_sentence(rest, c) or _add(rest, c)


def _worn(x_text: str, y_text: str, c: _Context) -> _Reading:
    """"X wears/has/holds Y": Y is added on X (position "inside")."""
    ref = _np(x_text)
    y_head, relation = split_relation(y_text)
    target = _np(y_head)
    if target.text is None or ref.text is None:
        return _Reading("other", flags=["low_confidence"])
    words = target.text.split()
    colours = words[:-1]
    if (len(words) > 1 and words[-1] in lx.BODY_PARTS and any(w in lx.COLORS for w in colours)
            and all(w in lx.COLORS or w in lx.COLOR_FILLERS for w in colours)):
        # "give her red hair", "the woman should have red hair": the hair is recoloured
        name = _owned(ref.text, NounPhrase(words[-1]))
        return _Reading("color", name, name)
    sizes = [size_word(w) for w in target.text.split()[:1] if size_word(w)]
    if sizes and target.text.split()[0] in ("bigger", "larger", "smaller", "longer",
                                           "shorter", "tinier", "taller", "thinner", "wider"):
        return _Reading("size", _owned(ref.text, target), _owned(ref.text, target),
                        size=sizes[0])
    return _Reading("add", None, target.text, reference=ref.text, position="inside")


def _owned(owner: str, thing: NounPhrase) -> str:
    """"bear" + "bigger claws" -> "bear's claws"; pronouns take their possessive form."""
    noun = " ".join(w for w in (thing.text or "").split() if not size_word(w))
    possessive = lx.POSSESSIVE_OF.get(owner, f"{owner}'s")
    return f"{possessive} {noun}".strip()


_GIVE = _t(
    r"^(?P<verb>give|gift|hand|grant|equip|provide|bestow|lend|dress|outfit|adorn|decorate|"
    r"accessorize|furnish)\s+(?P<rest>.+)$"
)
_GIVE_LOOK = re.compile(
    r"\b(?:look|style|feel|vibe|makeover|aesthetic|effect|filter|finish|texture|tint|hue|"
    r"color|colour|coat of paint|paint job|paint|treatment|appearance|tone|glow|theme|makeup|"
    r"pattern|print|coating|coat|atmosphere|mood|ambience|ambiance|air|flair|touch|twist)$"
)
_GIVE_LOOK_OF = re.compile(
    r"^(?P<x>.+?)\s+(?:(?:the|a|an)\s+)?(?:[\w-]+\s+)?(?P<kind>look|style|feel|appearance|"
    r"aesthetic|vibe|quality|character|texture|finish)\s+(?:of|from)\s+\S"
)
_GIVE_SPLIT = frozenset({"a", "an", "some", "more", "bigger", "larger", "smaller", "new",
                         "longer", "shorter", "his", "her", "their", "its"})


def _give(s: str, c: _Context) -> _Reading | None:
    m = _GIVE.match(s)
    if not m:
        return None
    rest = m["rest"]
    verb = m["verb"]
    look_of = _GIVE_LOOK_OF.match(rest)
    if look_of:
        # "give the image the look of an old comic book": a look, not an object given
        return _give_reading(look_of["x"], look_of["kind"], c)
    if verb in ("dress", "outfit", "adorn", "decorate", "equip", "provide", "accessorize",
                "furnish"):
        parts = re.split(r"\s+(?:in|with)\s+", rest, maxsplit=1)
        if len(parts) != 2:
            return None
        return _give_reading(parts[0], parts[1], c)
    to_match = re.match(r"^(?P<y>.+?)\s+to\s+(?P<x>.+)$", rest)
    words = rest.split()
    if words and words[0] in lx.PRONOUNS and len(words) > 1 and words[0] not in ("this", "that"):
        return _give_reading(words[0], " ".join(words[1:]), c)
    for i in range(1, len(words)):
        if words[i] in _GIVE_SPLIT and (i > 1 or words[0] not in lx.DETERMINERS):
            return _give_reading(" ".join(words[:i]), " ".join(words[i:]), c)
    if to_match:
        return _give_reading(to_match["x"], to_match["y"], c)
    if len(words) >= 3 and words[0] in lx.DETERMINERS:
        return _give_reading(" ".join(words[:2]), " ".join(words[2:]), c)
    return None


def _give_reading(x_text: str, y_text: str, c: _Context) -> _Reading:
    y = y_text.strip()
    given = _np(y)
    if given.head in lx.BACKGROUND_WORDS and given.text and len(given.text.split()) > 1:
        # "give the photo a beach background"
        return _Reading("background", given.head, " ".join(given.text.split()[:-1]))
    if _GIVE_LOOK.search(y):
        core = _GIVE_LOOK.sub("", y).strip()
        if _is_whole_image(x_text.strip()):
            return _global()
        obj = _np(x_text)
        kind = classify_complement(core).kind
        if kind == "color" or re.search(r"(?:colou?r|tint|hue|paint|coat)$", y):
            name = without_colors(obj.text)
            return _Reading("color", name, name, locator=obj.locator)
        if _is_whole_image(obj.text) or obj.text is None:
            return _global()
        return _Reading("texture", obj.text, obj.text, locator=obj.locator)
    return _worn(x_text, y_text, c)


_WEAR = _t(
    r"^(?:make|have|let|get)\s+(?P<x>.+?)\s+(?:wear|hold|carry|have|wield|sport|don|put on|"
    r"be wearing|be holding|be carrying)\s+(?P<y>.+)$"
    r"|^(?P<x2>.+?)\s+(?:(?:should|must|needs? to|has to|could|can|will|shall|is to|are to)\s+"
    r"(?:wear|hold|carry|have|get|sport|wield|don|put on|be wearing|be holding|be carrying)|"
    r"(?:is|are)\s+(?:wearing|holding|carrying|sporting|wielding))\s+(?P<y2>.+)$"
    r"|^(?:make|have|let|get)\s+(?P<x3>.+?)\s+(?:wearing|holding|carrying|sporting|wielding)"
    r"\s+(?P<y3>.+)$"
)


def _wear(s: str, c: _Context) -> _Reading | None:
    m = _WEAR.match(s)
    if not m:
        return None
    x, y = next((m[a], m[b]) for a, b in (("x", "y"), ("x2", "y2"), ("x3", "y3")) if m[a])
    if size_word(y.split()[0]) and y.split()[0] not in ("big", "large", "small", "tiny", "little"):
        return _worn(x, y, c)
    if classify_complement(y).kind in ("color", "size") or y.startswith("no "):
        return None
    return _worn(x, y, c)


_TEXT = _t(
    r"^(?:make|have|let|get)\s+(?P<x>.+?)\s+(?:say|read|display|spell(?:\s+out)?)\s+(?P<y>.+)$"
    r"|^(?P<x2>.+?)\s+(?:(?:should|must|needs? to|has to|will|shall|could|can|is to)\s+"
    r"(?:say|read|display|spell(?:\s+out)?)|says|reads|should now say|should now read)\s+"
    r"(?P<y2>.+)$"
)


def _text(s: str, c: _Context) -> _Reading | None:
    """"the sign should say stop", "make the banner read sale": the writing on an object
    changes, which has no edit class of its own ("other" on that object)."""
    m = _TEXT.match(s)
    if not m:
        return None
    obj = _np(m["x"] or m["x2"])
    if obj.text is None or _is_whole_image(obj.text):
        return None
    return _Reading("other", obj.text, obj.text, locator=obj.locator)


_WISH = _t(
    r"^(?:i'd like|i would like|i want|we want|i need|we need|i'd love|i would love)\s+"
    r"(?P<x>.+?)\s+to\s+(?P<v>be|look|become|have|wear|hold|appear|turn|get)\s+(?P<y>.+)$"
)


def _wish(s: str, c: _Context) -> _Reading | None:
    m = _WISH.match(s)
    if not m:
        return None
    return _parse_sentence(f"{m['x']} should {m['v']} {m['y']}", c)


_EXIST = _t(
    r"^(?:(?:the\s+)?(?:image|picture|photo|scene|it)\s+(?:needs|should have|must have|requires|"
    r"could use|should contain|should include|needs to have|must include|should feature)|"
    r"let there be|make there be|have there be|there should be|there must be|"
    r"there needs to be|there has to be|there ought to be|there will be|there shall be|"
    r"(?:ensure|make sure)(?: that)? there (?:is|are|'s)|there is|there are|there's|"
    r"there be|i want|i need|we need|i'd like|i would like|include|could there be|"
    r"can there be|would there be|might there be|"
    r"there should also be|also include)\s+(?P<y>.+)$"
)


def _exist(s: str, c: _Context) -> _Reading | None:
    m = _EXIST.match(s)
    if not m:
        return None
    y = m["y"]
    if y.startswith(("no ", "not ", "nothing", "none")):
        return None
    gone = re.match(rf"^(?P<x>.+?)\s+(?:to be\s+)?(?:{_GONE})$", y)
    if gone:
        return _removal(gone["x"])
    return _add(y, c)


_ADD_VERBS = (
    r"add|insert|draw|sketch|create|generate|introduce|bring in|spawn|install|embed|"
    r"superimpose|overlay|append|incorporate|integrate|paste|sprinkle|scatter|plant|attach|"
    r"affix|throw in|drop in|put in|grow|build|construct|make appear|paint in|"
    r"depict|show|feature|inject|sneak in|slip in|pop in"
)
_PLACE_VERBS = (
    r"put on|put|place|set|lay|stick|hang|position|seat|park|perch|station|situate|mount|"
    r"pin|drop|toss|throw|land|rest|stand|arrange|balance|nestle|tuck|prop|lean|slot|wedge"
)
_ADD = _t(rf"^(?P<verb>{_ADD_VERBS}|{_PLACE_VERBS})\s+(?P<y>.+)$")
_DEFINITE = re.compile(r"^(?:the|this|that|these|those|his|her|their|its|my|your|our)\s")


def _add_template(s: str, c: _Context) -> _Reading | None:
    m = _ADD.match(s)
    if not m:
        return None
    verb, y = m["verb"], m["y"]
    if verb in ("show", "depict", "feature", "grow") and _is_whole_image(split_relation(y)[0]):
        return None
    if verb == "set" and re.search(r"\s(?:as|to|into)\s", y):
        return None  # "set the background as a city" is a change, read by `_transform`
    placing = re.fullmatch(_PLACE_VERBS, verb) is not None and verb != "put on"
    if placing and (_DEFINITE.match(y) or is_pronoun(y.split()[0])):
        head_text, relation = split_relation(y)
        if relation is None and y.split()[-1] in lx.GLOBAL_WORDS:
            # "put the city underwater": a condition of the whole scene
            return _global()
        obj = _np(head_text)
        if obj.text and relation is not None:
            worn = relation.reference
            if relation.position == "inside" and worn is not None and worn.head in lx.CLOTHING:
                # "put the cat in a spacesuit": the garment is added on the cat.
                return _Reading("add", None, worn.text, reference=obj.text, position="inside")
            return _move(obj, relation, c)
    return _add(y, c, verb)


_COLOR_VERB = _t(
    r"^(?P<verb>paint|colou?r|recolou?r|dye|tint|spray[- ]paint|spray|stain|bleach|shade|"
    r"colou?rize|repaint)\s+(?P<rest>.+)$"
)


def _color_verb(s: str, c: _Context) -> _Reading | None:
    m = _COLOR_VERB.match(s)
    if not m:
        return None
    rest = re.sub(r"\s+(?:paint|color|colour|dye)$", "", m["rest"])
    manner = re.search(r"\s(?:in the style of|like|as)\b", rest)
    if manner and _is_whole_image(rest[: manner.start()]):
        return _global()
    split = _suffix_complement(rest, kinds=("color",))
    if split is not None:
        x_text, _ = split
        x_text = re.sub(r"\s+(?:in|to|with|into|using)$", "", x_text)
        if _is_whole_image(x_text):
            return _global()
        obj = _np(x_text)
        name = without_colors(obj.text)
        return _Reading("color", name, name, locator=obj.locator)
    if m["verb"] in ("paint", "spray", "draw"):
        return _add(rest, c)
    obj = _np(rest)
    if obj.text is None:
        return None
    return _Reading("color", obj.text, obj.text, locator=obj.locator)


_COVER = _t(
    r"^(?:cover|coat|fill|drench|soak|bathe|wrap|blanket|dust|splash|smother|douse|flood|"
    r"sprinkle|decorate|adorn|surround|line|imbue|infuse|tinge|wash|saturate|suffuse|"
    r"bathe|populate|stock|crowd|pack|load|dot|stuff|fill up)\s+(?P<x>.+?)\s+(?:in|with)\s+"
    r"(?P<y>.+)$"
)


def _cover(s: str, c: _Context) -> _Reading | None:
    m = _COVER.match(s)
    if not m:
        return None
    return _covered(m["x"], m["y"])


def _covered(x: str, y: str) -> _Reading:
    """"cover X in Y": a colour or surface change when Y is paint, a material or a
    coating (snow, moss); otherwise Y is added on X."""
    kind = classify_complement(y, material_first=True).kind
    target = _np(y)
    if _is_whole_image(x):
        if kind == "noun" and target.text and target.head not in lx.COVERINGS:
            # "populate the image with eight birds": objects, not a surface
            return _Reading("add", None, target.text, position="none")
        return _global()
    obj = _np(x)
    if kind == "color":
        name = without_colors(obj.text)
        return _Reading("color", name, name, locator=obj.locator)
    if kind == "texture" or (target.head in lx.COVERINGS):
        return _Reading("texture", obj.text, obj.text, locator=obj.locator)
    return _Reading("add", None, target.text, reference=obj.text, position="inside")


_TRANSFORM_VERB = (
    r"change|turn|convert|transform|transmute|morph|switch|alter|modify|refashion|edit|"
    r"update|redo|remake|rework|recreate|reimagine|re-imagine|restyle|redesign|set|"
    r"reshape|mutate|evolve|metamorphose|change up|shift|make|render|get|cast|recast|"
    r"reinvent|revamp|adjust|transition|rerender|re-render|stylize|stylise|depict|portray|"
    r"reinterpret|envision|visualize|visualise|picture|present|show|reenvision|re-envision|"
    r"supplant|rethink|reconceive|reconceptualize|translate|reproduce|redraw|remaster"
)
_CONNECTORS = (
    r"to look like|to resemble|to appear like|to appear as|to become|to be|to portray|"
    r"to show|to depict|to feature|so (?:that )?(?:it|they) (?:looks?|appears?) like|"
    r"so (?:that )?(?:it|they) (?:resembles?|becomes?|turns? into|is|are|depicts?|shows?|"
    r"portrays?|features?|displays?)|"
    r"look like|looks like|resemble|appear like|seem like|into|in to|in the style of|"
    r"to|as|in|like"
)
_TRANSFORM = _t(rf"^(?P<verb>{_TRANSFORM_VERB})\s+(?P<rest>.+)$")
_CONNECTOR = re.compile(
    rf"(?<!\bnext)(?<!\bclose)(?<!\badjacent)\s+(?P<conn>{_CONNECTORS})"
    r"\s+(?=\S)"
)
#: Verbs whose "to" is not "into" ("make the cat jump to the table").
_WEAK_CONNECTOR_VERBS = frozenset({"make", "render", "get", "shift", "depict", "portray"})
#: ... and whose "as"/"in" is not a manner either ("make it in the 1920s" is read by `_make`).
_NO_AS_VERBS = frozenset({"make", "get", "shift"})


def _transform(s: str, c: _Context) -> _Reading | None:
    m = _TRANSFORM.match(s)
    if not m:
        return None
    verb, rest = m["verb"], m["rest"]
    direct = re.match(rf"^(?:{_CONNECTORS})\s+(?P<y>.+)$", rest)
    if direct and verb not in ("make", "get", "set"):
        return _change("image", direct["y"])
    split = _split_connector(rest, verb)
    if split is None:
        return None
    x, conn, y = split
    if not x.strip():
        return None
    return _change(x, y, material_first=conn in ("into", "in to", "in"))


def _split_connector(rest: str, verb: str) -> tuple[str, str, str] | None:
    matches = list(_CONNECTOR.finditer(" " + rest))
    if not matches:
        return None
    weak = verb in _WEAK_CONNECTOR_VERBS
    allowed = []
    for match in matches:
        conn = match["conn"]
        if weak and (conn in ("to", "to be") or (conn in ("as", "in", "like")
                                                  and verb in _NO_AS_VERBS)):
            continue
        if verb == "shift" and conn not in ("into", "in to"):
            continue
        if conn == "in" and verb not in ("render", "depict", "portray", "restyle", "stylize",
                                         "stylise", "recreate", "redo", "remake", "show",
                                         "present", "picture", "envision", "visualize",
                                         "visualise", "reimagine", "re-imagine"):
            continue
        allowed.append(match)
    if not allowed:
        return None
    long_ones = [mt for mt in allowed if mt["conn"] not in ("to", "as", "in", "like")]
    if any(mt["conn"] in ("into", "in to") for mt in long_ones):
        chosen = next(mt for mt in long_ones if mt["conn"] in ("into", "in to"))
    elif long_ones:
        chosen = long_ones[0]
    else:
        tos = [mt for mt in allowed if mt["conn"] == "to"]
        chosen = tos[-1] if tos else allowed[0]
        if chosen["conn"] == "to" and relation_at(" ".join(rest[chosen.start():].split())):
            relation = relation_at(rest[chosen.start():].strip())
            if relation is not None and relation.position not in ("inside", "unchanged"):
                return None
    text = " " + rest
    return text[: chosen.start()].strip(), chosen["conn"], text[chosen.end():].strip()


_BECOME = _t(
    r"^(?P<x>.+?)\s+(?:becomes?|turns? into|turned into|changes? into|changed into|changes? to|"
    r"is turned|are turned|"
    r"changed to|morphs? into|transforms? into|is turned into|are turned into|is changed to|"
    r"are changed to|is changed into|is transformed into|are transformed into|"
    r"is converted into|is converted to|(?:should|must|needs? to|has to|will|shall|could)\s+"
    r"(?:become|turn into|be turned into|be changed to|be changed into|be converted to|"
    r"be converted into|be transformed into|change into|change to|transform into|morph into|"
    r"be turned|be made|be painted|be colou?red|be dyed|be rendered|get turned|"
    r"be recolou?red|be repainted|be tinted|be shaded|"
    r"look like|resemble)|looks like|resembles)\s+(?P<y>.+)$"
)


_TURN_PROPERTY = _t(
    r"^(?P<x>.+?)\s+(?:(?:should|must|needs? to|has to|have to|will|shall|could|can|is to|"
    r"are to|ought to)\s+(?:turn|go|grow)|turns|goes|grows)\s+(?P<y>.+)$"
)


def _become(s: str, c: _Context) -> _Reading | None:
    m = _BECOME.match(s)
    if m:
        return _change(m["x"], m["y"], material_first=True)
    m = _TURN_PROPERTY.match(s)
    if m and classify_complement(m["y"]).kind in ("color", "texture", "size"):
        # "the bird's plumage needs to turn yellow" (but not "the lights should turn off")
        return _change(m["x"], m["y"])
    return None


_LOOK_DIRECTIONS = frozenset(
    "at to toward towards up down away into out back around left right straight over".split()
)
_MAKE = _t(
    r"^(?P<verb>make|turn|render|get|have|let|keep|leave|paint|colou?r|dye|craft|fashion|forge|"
    r"mold|mould|carve|sculpt|rebuild|reconstruct|resize|rescale|scale|zoom)\s+(?P<rest>.+)$"
)
_SEEM_TAIL = re.compile(r"\s+(?:(?:appears?|looks?|seems?)(?:\s+to)?|to)$")
_OUT_OF = re.compile(r"^(?P<x>.+?)\s+(?:be\s+)?(?:made\s+)?(?:out\s+of|of)\s+(?P<y>.+)$")
_WHOLE_LEAD = re.compile(
    r"^(?P<x>(?:the|this|that|my|our) (?:whole |entire )?(?:image|photo|photograph|picture|"
    r"pic|scene|shot|thing)|it|this|everything|the weather|the season|the time|the lighting|"
    r"the mood|the atmosphere|"
    r"the style)\s+(?:be\s+|look\s+|appear\s+|seem\s+|into\s+)?(?P<y>.+)$"
)


def _make(s: str, c: _Context) -> _Reading | None:
    m = _MAKE.match(s)
    if not m:
        return None
    verb, rest = m["verb"], m["rest"]
    whole = _WHOLE_LEAD.match(rest)
    if whole:
        return _change_whole(whole["x"], whole["y"])
    if verb in ("have", "let") and re.match(r"^(?:a|an|some|\d+)\s", rest):
        return _add(rest, c)
    covered = _COVERED_AFTER.match(rest)
    if covered:
        return _covered(covered["x"], covered["y"])
    out_of = _OUT_OF.match(rest)
    if out_of and " out of " in f" {rest} " or (
        out_of and classify_complement(out_of["y"], material_first=True).kind == "texture"
    ):
        obj = _np(_SEEM_TAIL.sub("", out_of["x"]))
        if obj.text:
            return _Reading("texture", obj.text, obj.text, locator=obj.locator)
    split = _suffix_complement(rest, kinds=("color", "texture", "size", "global"))
    if split is not None:
        x_text, y_text = split
        return _change(x_text, y_text)
    words = rest.split()
    for i in range(1, len(words)):
        word = words[i].strip(",.")
        if words[i - 1] in lx.DETERMINERS or words[i - 1] in ("'s",):
            continue
        if word in ("be", "look", "appear", "seem") and i + 1 < len(words):
            y = " ".join(words[i + 1:])
            if word == "look" and words[i + 1] in _LOOK_DIRECTIONS:
                obj = _np(" ".join(words[:i]))
                return _Reading("action", obj.text, obj.text, locator=obj.locator)
            return _change(" ".join(words[:i]), y)
        possessed = i + 2 < len(words) and words[i + 1] in ("his", "her", "its", "their")
        if possessed and word not in lx.DETERMINERS and word not in _NOT_A_GESTURE:
            # "have the giraffe lower its head": a verb on the object's own body part
            obj = _np(" ".join(words[:i]))
            if obj.text:
                return _Reading("action", obj.text, obj.text, locator=obj.locator)
        modifier = word.endswith("ing") and i + 1 < len(words) and not (
            words[i + 1] in lx.DETERMINERS or words[i + 1] in _NOT_A_GESTURE
            or words[i + 1].endswith("ly")
        )
        if modifier and i > 1:
            # "make the cars flying cars": an -ing word before a noun is an adjective
            return _change(" ".join(words[:i]), " ".join(words[i:]))
        if classify_complement(word).kind == "action" and word not in lx.COLORS:
            obj = _np(" ".join(words[:i]))
            if obj.text:
                return _Reading("action", obj.text, obj.text, locator=obj.locator)
    for i in range(1, len(words)):
        if words[i] in ("a", "an") and words[i - 1] not in lx.DETERMINERS | {"of", "with"}:
            return _change(" ".join(words[:i]), " ".join(words[i:]))
    if verb in ("make", "turn", "render", "get"):
        last = words[-1]
        plural_object = (len(words) > 2 and words[0] in lx.DETERMINERS) or (
            len(words) == 2 and words[0] in ("them", "they", "these", "those")
        )
        if plural_object and last.endswith("s") and not last.endswith(("ss", "ous")):
            # "make the bananas apples": a bare plural noun as the new object.
            return _change(" ".join(words[:-1]), last)
        if len(words) > 1 and re.search(r"(?:ed|y|ful|ous|ic|al|ish|less|ive|er)$", last):
            # "make the shirt crumpled": an unknown property of the object.
            obj = _np(" ".join(words[:-1]))
            return _Reading("other", obj.text, obj.text, locator=obj.locator)
        if len(words) > 2 and words[0] in lx.DETERMINERS:
            # "make the cat X" with an unknown single word X: the object is what precedes.
            obj = _np(" ".join(words[:-1]))
            return _Reading("other", obj.text, obj.text, locator=obj.locator,
                            flags=["low_confidence"])
        obj = _np(rest)
        return _Reading("other", obj.text, obj.text, locator=obj.locator,
                        flags=["low_confidence"])
    return None


#: Words before "his/her/its" that are not a gesture ("make the man with his dog ...").
_NOT_A_GESTURE = frozenset(
    "with and of in on at to from for by near beside behind under over into onto without "
    "like as than be look appear seem".split()
)


def _suffix_complement(rest: str, kinds: tuple[str, ...]) -> tuple[str, str] | None:
    """Split "the bowl on the top of the red bowl yellow" at the longest tail that is a
    pure complement of one of `kinds` ("yellow")."""
    words = rest.split()
    best = None
    for k in range(len(words) - 1, 0, -1):
        if words[k] in ("at", "in", "on", "during", "under", "like", "to", "into"):
            continue
        tail = " ".join(words[k:])
        comp = classify_complement(tail)
        if comp.kind not in kinds:
            if best is not None and comp.kind == "noun":
                break
            continue
        if words[k - 1] in lx.DETERMINERS:
            continue
        best = (" ".join(words[:k]), tail)
    return best


_BE = _t(
    r"^(?:let\s+|have\s+|make\s+|keep\s+|can\s+|could\s+|would\s+|should\s+|may\s+|"
    r"might\s+|will\s+)?(?P<x>.+?)\s+(?:(?:should|must|shall|needs? to|has to|"
    r"have to|will|would|can|could|is to|are to|ought to|got to)\s+)?"
    r"(?P<verb>be|is|are|was|were|'s|look|looks|appear|appears|seem|seems|get|gets|become)\s+"
    r"(?P<y>.+)$"
)
_COVERED_AFTER = re.compile(
    r"^(?P<x>.+?)\s+(?:be\s+)?(?:covered|coated|filled|full|decorated|draped|wrapped|dusted|"
    r"splashed|smothered|blanketed|drenched|sprinkled|topped|piled|loaded|packed|crowded)\s+"
    r"(?:in|with|by|of)\s+(?P<y>.+)$"
)
_COVERED = re.compile(
    r"^(?:covered|coated|filled|decorated|draped|wrapped|dusted|splashed|smothered|"
    r"blanketed|drenched|sprinkled|full|topped|piled|loaded|packed|crowded)\s+"
    r"(?:in|with|by|of)\s+(?P<y>.+)$"
)
_ADDED = re.compile(r"^(?:added|inserted|included|introduced|drawn in|drawn)\b\s*(?P<rest>.*)$")
_PLACED = re.compile(
    r"^(?:moved|placed|positioned|located|put|shifted|relocated|set|situated|sitting|"
    r"standing|lying|hanging|floating|perched|seated)\s+(?P<y>.+)$"
)


def _be(s: str, c: _Context) -> _Reading | None:
    m = _BE.match(s)
    if not m:
        return None
    x, y = m["x"], re.sub(r"^(?:now|also|instead|still|then|all)\s+(?=\S)", "", m["y"])
    if x.startswith("there"):
        return None
    if m["verb"] in ("look", "looks") and y.split()[0] in _LOOK_DIRECTIONS:
        obj = _np(x)
        return _Reading("action", obj.text, obj.text, locator=obj.locator)
    covered = _COVERED.match(y)
    if covered:
        return _covered(x, covered["y"])
    added = _ADDED.match(y)
    if added:
        # "a fork should be added to the right of the plate"
        return _add(f"{x} {added['rest']}".strip(), c)
    placed = _PLACED.match(y)
    if placed:
        head, relation = split_relation(" ".join(["it", placed["y"]]))
        if relation is not None and re.match(r"^(?:a|an|some|\d+|two|three|four|five)\s", x):
            return _add(f"{x} {placed['y']}", c)  # "a bird should be placed on the roof"
        if relation is not None:
            return _move(_np(x), relation, c)
    return _change(x, y, material_first=y.startswith(("made", "of ")))


_MODAL = (
    r"should|must|needs? to|has to|have to|will|shall|can|could|ought to|is to|are to"
)
_SHOWS = _t(
    rf"^(?:let\s+|have\s+|make\s+)?(?P<x>.+?)\s+(?:(?:{_MODAL})\s+)?(?:show|shows|depict|"
    r"depicts|feature|features|display|displays|portray|portrays)\s+(?P<y>.+)$"
)
_MODAL_GESTURE = _t(
    rf"^(?P<x>.+?)\s+(?:{_MODAL})\s+(?P<verb>[a-z]+)\s+(?:his|her|its|their)\s+\S"
)


def _modal_verb(s: str, c: _Context) -> _Reading | None:
    """"the background should show a stadium" (a new background); "the woman should cross
    her arms" (a gesture: a verb on the subject's own body part)."""
    m = _SHOWS.match(s)
    if m and _np(m["x"]).head in lx.BACKGROUND_WORDS:
        return _Reading("background", _np(m["x"]).head, _strip_scene_words(m["y"]))
    m = _MODAL_GESTURE.match(s)
    if m and m["verb"] not in _NOT_A_GESTURE and m["verb"] not in _POSSESSING:
        subject = _np(m["x"])
        if subject.text and not is_pronoun(subject.text):
            return _Reading("action", subject.text, subject.text, locator=subject.locator)
    return None


#: Verbs whose "his/her X" is a thing owned, not a gesture ("should wear her hat").
_POSSESSING = frozenset("wear hold have get lose carry keep find take wash".split())


_APPEAR = _t(
    r"^(?:(?:have|let|make|ensure|make sure|see that)\s+(?:that\s+)?)?"
    r"(?P<y>(?:a|an|some|one|two|three|four|five|six|seven|eight|nine|ten|several|many|"
    r"a few|a pair of|a couple of|\d+)\s.+?)\s+(?:(?:should|must|will|can|could|is to|are to)\s+)?"
    r"(?:be\s+)?(?:appears?|sits?|sitting|seated|stands?|standing|lies|lie|lying|rests?|resting|"
    r"hangs?|hanging|floats?|floating|perch(?:es)?|perched|lounges?|lounging|placed|positioned|"
    r"located|situated|waits?|waiting|sleeps?|sleeping)\s+(?P<rel>.+)$"
)


def _appear(s: str, c: _Context) -> _Reading | None:
    """"have two puppies appear beside the girl", "ensure a fork lies to the right of the
    plate": a new (indefinite) object placed somewhere."""
    m = _APPEAR.match(s)
    if not m or relation_at(m["rel"]) is None:
        return None
    return _add(f"{m['y']} {m['rel']}", c)


_TAKE_PLACE_IN = _t(
    r"^(?:(?:have|let|make)\s+)?(?:the\s+)?(?:scene|image|photo|picture|it|this|story|action|"
    r"everything|event)\s+(?:(?:should|must|will|could)\s+)?(?:take|takes|taking)\s+place\s+"
    r"(?:on|in|at|inside|within|during|under)\s+(?P<y>.+)$"
)


def _take_place_in(s: str, c: _Context) -> _Reading | None:
    """"have the scene take place on a snowy mountaintop": a new setting (or a time)."""
    m = _TAKE_PLACE_IN.match(s)
    if not m:
        return None
    where = _np(m["y"])
    if where.head is None or classify_complement(where.head).kind == "global":
        return _global()
    return _Reading("background", "background", where.text)


_GLOBAL_BARE = _t(
    r"^(?:(?:it|this|everything)\s+)?(?:in the style of|"
    r"as if (?:it )?(?:was|were) (?:painted|drawn|made|taken) by|"
    r"as (?:a|an)|like (?:a|an)|in (?:a|an)|in the|at|during|convert to|turn to|"
    r"apply (?:a|an)?|use (?:a|an)?|give (?:it|the image|the photo|this) (?:a|an)?|"
    r"(?:adopt|employ|utili[sz]e|go for|opt for|switch to|choose) (?:a|an)?|"
    r"add (?:a|an)?)\s+(?P<y>.+?)(?:\s+(?:filter|effect|style|look|aesthetic|tone|vibe))?$"
)


def _global_bare(s: str, c: _Context) -> _Reading | None:
    m = _GLOBAL_BARE.match(s)
    if not m:
        return None
    comp = classify_complement(m["y"]).kind
    if comp == "global" or re.search(r"\b(?:filter|effect|style|look|aesthetic|tone)$", s):
        return _global()
    return None


_WEARING = _t(r"^(?P<x>.+?)\s+(?:wearing|holding|carrying|sporting|wielding|with)\s+(?P<y>.+)$")


def _wearing(s: str, c: _Context) -> _Reading | None:
    m = _WEARING.match(s)
    return _worn(m["x"], m["y"], c) if m else None


_MARK = _t(
    r"^(?:highlight|segment|detect|outline|circle|mark|select|isolate|locate|find|box|"
    r"identify|spotlight|point out|draw a box around|draw a circle around)\s+(?P<x>.+)$"
)


def _mark(s: str, c: _Context) -> _Reading | None:
    """EmuEdit-style perception tasks ("highlight the dog", "segment the cat"): the object
    is marked, not changed in kind ("other")."""
    m = _MARK.match(s)
    if not m:
        return None
    obj = _np(m["x"])
    if obj.text is None:
        return None
    return _Reading("other", obj.text, obj.text, locator=obj.locator)


_RAISE = _t(
    r"^(?P<verb>raise|lift|elevate|hoist|lower|drop)\s+(?P<x>.+?)"
    r"(?:\s+(?:higher|lower|up|down|further|(?:a\s+)?(?:little|bit)(?:\s+bit)?|slightly))*$"
)


def _raise(s: str, c: _Context) -> _Reading | None:
    """"lower the lamp", "raise the flag higher": a move up or down; a raised arm or head
    is a gesture (`_action_imperative`)."""
    m = _RAISE.match(s)
    if not m:
        return None
    obj = _np(m["x"])
    words = m["x"].split()
    if obj.head is None or obj.head in lx.BODY_PARTS or obj.head in lx.LIMBS or any(
        w in ("his", "her", "its", "their", "your") for w in words
    ):
        return None
    position = "up" if m["verb"] in ("raise", "lift", "elevate", "hoist") else "down"
    return _move(obj, Relation(position, None, m["verb"]), c)


_ACTION_IMPERATIVE = _t(
    r"^(?:raise|lift|open|close|shut|bend|cross|fold|tilt|clench|unfold|spread|flap|wag|"
    r"squint|purse|pucker|uncross|straighten|curl|stretch out|nod|shake)\s+(?P<x>.+)$"
)


def _action_imperative(s: str, c: _Context) -> _Reading | None:
    """"raise the man's arm", "close her eyes": a pose or gesture of an object."""
    m = _ACTION_IMPERATIVE.match(s)
    if not m:
        return None
    obj = _np(m["x"])
    if obj.text is None:
        return None
    return _Reading("action", obj.text, obj.text, locator=obj.locator)


_ORIENT = _t(
    r"^(?:turn|switch|flip|rotate|mirror|invert|spin|tilt)\s+"
    r"(?P<x>.+?)(?:\s+(?:on|off|over|around|upside\s+down|horizontally|vertically|sideways|"
    r"clockwise|counter-?clockwise|anticlockwise|by\s+\d+\s+degrees|\d+\s+degrees|"
    r"to\s+the\s+(?:left|right)|left|right))+$"
    r"|^(?:turn|switch|flip)\s+(?:on|off|over|around)\s+(?P<x2>.+)$"
)


def _orient(s: str, c: _Context) -> _Reading | None:
    """"turn the lights off", "flip the car upside down", "rotate the chair": a change of
    state or orientation of an object, with no class of its own ("other")."""
    m = _ORIENT.match(s)
    if not m:
        return None
    obj = _np(m["x"] or m["x2"])
    if obj.text is None or _is_whole_image(obj.text):
        return _global() if obj.text else None
    return _Reading("other", obj.text, obj.text, locator=obj.locator)


_BARE_CHANGE = _t(
    r"^(?P<x>(?:[\w'-]+\s+){0,2}[\w'-]+)\s+(?:to|into|->|=>|\u2192)\s+"
    r"(?P<y>(?:[\w'-]+\s+){0,3}[\w'-]+)$"
)


_PARTICLE = re.compile(r"\b(?:in|out|up|down|on|off|back|it|me|us)\b")


def _bare_change(s: str, c: _Context) -> _Reading | None:
    """Terse labels with no verb ("cat to dog", "day -> night"): X becomes Y."""
    m = _BARE_CHANGE.match(s)
    if not m or _np(m["x"]).text is None or _PARTICLE.search(m["x"]):
        return None
    return _change(m["x"], m["y"])


#: Templates in the order they are tried; the first that reads the sentence wins.
_TEMPLATES: tuple[_Template, ...] = (
    _remove_and_add,
    _replace,
    _take_place,
    _instead,
    _passive_replace,
    _no_more,
    _passive_remove,
    _remove,
    _adjust,
    _size_verb,
    _what_if,
    _give,
    _wear,
    _text,
    _wish,
    _exist,
    _color_verb,
    _cover,
    _take_place_in,
    _appear,
    _move_template,
    _add_template,
    _orient,
    _mark,
    _raise,
    _action_imperative,
    _transform,
    _become,
    _modal_verb,
    _make,
    _global_bare,
    _be,
    _wearing,
    _bare_change,
)


_FRONTED_PLACE = re.compile(
    r"^(?P<rel>(?:on|to|in|at|under|above|below|beside|next to|behind|near|in front of|inside|"
    r"atop|beneath|underneath|over|onto|into|between)\b[^,]+),\s*(?P<rest>[a-z].+)$"
)


def _parse_sentence(sentence: str, context: _Context) -> _Reading | None:
    if not sentence:
        return None
    fronted = _FRONTED_PLACE.match(sentence)
    if fronted and relation_at(fronted["rel"]) is not None:
        # "on the right of the man, add a fish" -> "add a fish on the right of the man"
        sentence = f"{fronted['rest']} {fronted['rel']}"
    topic = _TOPIC.match(sentence)
    if topic:
        # "the car, make it blue": the pronoun stands for the fronted noun phrase.
        sentence = re.sub(r"\b(?:it|them)\b", topic["x"], topic["rest"], count=1)
    for template in _TEMPLATES:
        reading = template(sentence, context)
        if reading is not None:
            return reading
    return None


# ---------------------------------------------------------------- the parser

_DEFAULT_POSITION = {"remove": "none", "add": "none", "move": "unchanged"}


class RulesParser:
    """Offline, deterministic parser: a grammar of editing language, no model weights.

    `max_chars` caps how much of an instruction is read: longer input is not an editing
    instruction this grammar can trust, so it gives `edit_type="other"` flagged
    `truncated` and `low_confidence`.
    """

    parser_id = "rules"

    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        if max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {max_chars}")
        self.max_chars = max_chars

    def parse(self, instruction: str) -> EditSpec:
        """Parse one instruction; empty or whitespace-only input raises `ValueError`."""
        text = check_instruction(instruction)
        if len(text) > self.max_chars:
            return self._spec(_Reading("other", flags=["truncated", "low_confidence"]),
                              instruction, {})
        if len(_LETTER.findall(text.lower())) < 0.5 * len(text.replace(" ", "")):
            return self._spec(_Reading("other", flags=["low_confidence"]), instruction, {})
        originals = _original_case(text)
        proper = frozenset(
            w.lower().strip(",.!?;:") for w in text.split()[1:] if w[:1].isupper()
        )
        context = _Context(proper_words=proper)
        reading = None
        for sentence in _SENTENCE_SPLIT.split(text):
            reading = _parse_sentence(_normalise(sentence), context)
            if reading is not None:
                break
        if reading is None:
            reading = _Reading("other", flags=["low_confidence"])
        return self._spec(reading, instruction, originals)

    def _spec(self, reading: _Reading, instruction: str, originals: dict[str, str]) -> EditSpec:
        flags = list(reading.flags)
        for value in (reading.source, reading.target, reading.reference):
            if value is not None and value != WHOLE_IMAGE and is_pronoun(value):
                flags.append("unresolved_pronoun")
        if reading.edit_type == "add":
            reading.source = None
        if reading.edit_type == "remove":
            reading.target = None
        position = reading.position or _DEFAULT_POSITION.get(reading.edit_type, "unchanged")
        return EditSpec(
            edit_type=reading.edit_type,
            source_object=_restore(reading.source, originals),
            target_object=_restore(reading.target, originals),
            reference_object=_restore(reading.reference, originals),
            size_change=reading.size,
            position_change=position,
            source_locator=_restore(reading.locator, originals),
            instruction=instruction,
            parser=self.parser_id,
            flags=tuple(flags),
        )


def _original_case(text: str) -> dict[str, str]:
    """Lower-case word -> its spelling in the instruction ("t-shirt" -> "T-shirt")."""
    mapping: dict[str, str] = {}
    sentence_start = True
    for word in text.translate(_QUOTES).split():
        clean = word.strip(".,!?;:\"()")
        capitalised_only = clean[:1].isupper() and clean[1:] == clean[1:].lower()
        if clean and clean.lower() != clean and not (sentence_start and capitalised_only):
            mapping.setdefault(clean.lower(), clean)
        sentence_start = word.endswith((".", "!", "?", ";"))
    return mapping


def _restore(phrase: str | None, originals: dict[str, str]) -> str | None:
    if phrase is None or phrase == WHOLE_IMAGE or not originals:
        return phrase
    return " ".join(originals.get(w, w) for w in phrase.split())


__all__ = ["MAX_CHARS", "RulesParser"]
