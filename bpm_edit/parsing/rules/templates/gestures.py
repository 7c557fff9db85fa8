"""Templates for edits with no class of their own or a gesture: text changes ("the sign
should say stop"), EmuEdit perception tasks ("highlight the dog") and imperative gestures
("raise the man's arm", "close her eyes").
"""

from __future__ import annotations

import re

from bpm_edit.parsing.rules.templates.readings import (
    Context,
    Reading,
    in_place,
    is_whole_image,
    noun_phrase,
)

_TEXT = re.compile(
    r"^(?:make|have|let|get)\s+(?P<x>.+?)\s+(?:say|read|display|spell(?:\s+out)?)\s+(?P<y>.+)$"
    r"|^(?P<x2>.+?)\s+(?:(?:should|must|needs? to|has to|will|shall|could|can|is to)\s+"
    r"(?:say|read|display|spell(?:\s+out)?)|says|reads|should now say|should now read)\s+"
    r"(?P<y2>.+)$"
)


def text_edit(s: str, c: Context) -> Reading | None:
    """"the sign should say stop", "make the banner read sale": the writing on an object
    changes, which has no edit class of its own ("other" on that object)."""
    m = _TEXT.match(s)
    if not m:
        return None
    obj = noun_phrase(m["x"] or m["x2"])
    if obj.text is None or is_whole_image(obj.text):
        return None
    return in_place("other", obj)


_MARK = re.compile(
    r"^(?:highlight|segment|detect|outline|circle|mark|select|isolate|locate|find|box|"
    r"identify|spotlight|point out|draw a box around|draw a circle around)\s+(?P<x>.+)$"
)


def mark(s: str, c: Context) -> Reading | None:
    """EmuEdit-style perception tasks ("highlight the dog", "segment the cat"): the object
    is marked, not changed in kind ("other")."""
    m = _MARK.match(s)
    if not m:
        return None
    obj = noun_phrase(m["x"])
    if obj.text is None:
        return None
    return in_place("other", obj)


_ACTION_IMPERATIVE = re.compile(
    r"^(?:raise|lift|open|close|shut|bend|cross|fold|tilt|clench|unfold|spread|flap|wag|"
    r"squint|purse|pucker|uncross|straighten|curl|stretch out|nod|shake)\s+(?P<x>.+)$"
)


def action_imperative(s: str, c: Context) -> Reading | None:
    """"raise the man's arm", "close her eyes": a pose or gesture of an object."""
    m = _ACTION_IMPERATIVE.match(s)
    if not m:
        return None
    obj = noun_phrase(m["x"])
    if obj.text is None:
        return None
    return in_place("action", obj)
