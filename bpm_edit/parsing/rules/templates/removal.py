"""Removal templates: "remove X", "get rid of X", "take X off Y", "there should be no X",
"the image should be free of X", "X must be expunged", "make X disappear", "X has to go".

Each template takes a normalised sentence and a `Context` and returns a `Reading` or
None; `rules.py` tries them in cascade order.
"""

from __future__ import annotations

import re

from bpm_edit.parsing.rules.grammar import read_locator
from bpm_edit.parsing.rules.templates.readings import (
    Context,
    Reading,
    change,
    in_place,
    is_whole_image,
    noun_phrase,
    removal_of,
    whole_image,
)

_NO_MORE = re.compile(
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
    r"|^(?:(?:let|have|make)\s+)?(?:(?:the\s+)?(?:image|photo|photograph|picture|scene|it)\s+)?"
    r"(?:should|must|shall|does|do|can|"
    r"will)?\s*(?:not|n't|no\s+longer)\s+(?:contain|have|include|show|feature|depict|display)"
    r"\s+(?:any\s+)?(?P<x6>.+)$"
    r"|^(?:(?:i'd like|i would like|i want|i need|show|give me|make|keep|leave|have|render)\s+)?"
    r"(?:the\s+|this\s+)?(?:image|photo|photograph|picture|scene|it)\s+without\s+"
    r"(?:any\s+)?(?P<x9>.+)$"
)


def no_more(s: str, c: Context) -> Reading | None:
    """"there should be no X", "the image should be free of X", "X without Y"."""
    m = _NO_MORE.match(s)
    if not m:
        return None
    if m["x3"] and s.startswith("nothing but"):
        return None
    for where, what in (("x7", "y7"), ("x8", "y8")):
        if m[what]:
            reading = removal_of(m[what])
            where_text = re.sub(r"^(?:make|keep|leave|let|have|get)\s+", "", m[where])
            if not is_whole_image(where_text) and reading.locator is None:
                reading.locator = read_locator("from " + where_text)
            return reading
    return removal_of(m["x"] or m["x2"] or m["x3"] or m["x4"] or m["x5"] or m["x6"] or m["x9"])


GONE = (
    r"removed|deleted|erased|expunged|eliminated|eradicated|gone|taken away|taken out|"
    r"wiped out|wiped away|wiped off|cleared away|cleared|omitted|excluded|extracted|"
    r"disappear|disappeared|vanish|vanished|go away|absent|missing|invisible|hidden|"
    r"not there|not be there|not visible|not exist|no longer there|no longer exist|"
    r"no longer be there|no longer visible|out of the picture|edited out|cut out|"
    r"taken off|got rid of|gotten rid of|get removed|got removed|taken down|pulled down|"
    r"torn down|knocked down|cut down|pulled out|cropped out|painted out|painted over|"
    r"wiped|scrubbed|purged|banished|excised|obliterated|scrapped|ditched|discarded|"
    r"nowhere to be (?:seen|found)|nowhere in sight|no longer in sight|out of the frame|"
    r"out of sight|out of view|no longer be seen|not be seen|"
    r"(?:no longer|not|never|doesn't|does not|don't|do not)\s+(?:appears?|shows?(?:\s+up)?|"
    r"exists?|remains?|be present|be visible)|(?:is|are)\s+(?:no longer|not)\s+(?:present|visible)|"
    r"(?:can't|cannot|can not)\s+be\s+seen"
)


_PASSIVE_REMOVE = re.compile(
    rf"^(?P<x>.+?)\s+(?:should|must|needs? to|has to|have to|shall|will|is to|are to|can|"
    rf"ought to|would)?\s*(?:be|is|are|being|get|gets)?\s*(?:be\s+)?(?:{GONE})\b(?P<rest>.*)$"
)


_MAKE_GONE = re.compile(
    r"^(?:make|let|have|get)\s+(?P<x>.+?)\s+(?:disappear|vanish|go away|be gone|gone|"
    r"be removed|removed|fade away|fade out|vacate|leave|exit|depart|flee)\b(?P<rest>.*)$"
    r"|^(?P<x2>.+?)\s+(?:disappears|vanishes|is gone|are gone|goes away|fades away|"
    r"to (?:disappear|vanish|go away|be gone|be removed)|"
    r"(?:has to|have to|must|needs? to|should|gotta|can) go(?:\s+away)?)$"
)


_WANT_LEAD = re.compile(r"^(?:i|we)\s+(?:want|need|would like|'d like|wish)\s+")


def passive_remove(s: str, c: Context) -> Reading | None:
    """"X must be expunged", "make X disappear", "X has to go"."""
    m = _MAKE_GONE.match(s)
    if m:
        return removal_of(m["x"] or m["x2"])
    m = _PASSIVE_REMOVE.match(s)
    if m and not m["rest"].strip().startswith(("with", "by", "and replaced")):
        reading = removal_of(_WANT_LEAD.sub("", m["x"]))
        rest = m["rest"].strip()
        if rest.startswith("from ") and reading.locator is None:
            reading.locator = read_locator(rest)
        return reading
    return None


_REMOVE = re.compile(
    r"^(?:get rid of|take away|take out|take off|wipe out|wipe away|wipe off|clear away|"
    r"clear out|clear off|cut out|do away with|remove|delete|erase|eliminate|expunge|"
    r"eradicate|omit|exclude|ditch|discard|hide|rid the image of|rid|lose|"
    r"edit out|crop out|clean up|clean away|dispose of|subtract|banish|purge|scrub out|"
    r"scrub away|blot out|paint out|paint over|remove all traces of|obliterate|excise|efface|"
    r"annihilate|abolish|expel|evict|dispel|scrap|wipe|blank out|white out|mask out|black out|"
    r"throw out|throw away|kick out|chuck out|toss out|cut away|delete out|dispense with|"
    r"zap|nix|strip away|strip off|strip out|peel off|peel away|scrape off|scrape away|"
    r"rub out|rub off|wash away|wash off|clean off|brush away|brush off|sweep away|leave out|"
    r"scrub off|scrub away|take)"
    r"\s+(?P<x>.+)$"
)


_TAKE_OFF = re.compile(
    r"^(?:take|pull|knock|brush|wipe|cut|get|pluck|pick|yank|rip|tear|snatch|lift|kick|"
    r"chase|scare|shoo|clean|sweep|wash|scrape|peel|zap|blow|push|scrub|rub|erase|clear|"
    r"photoshop|edit|airbrush)\s+"
    r"(?P<x>.+?)\s+"
    r"(?:off|away|out)"
    r"(?:\s+(?:of|from)?\s*(?P<origin>.+))?$"
)


_EXTRACT = re.compile(r"^(?:extract|isolate|cut out and keep|keep only)\s+(?P<x>.+)$")


def extract(s: str, c: Context) -> Reading | None:
    """"extract the striped top (worn by the person)": the object is kept and everything
    else goes, an edit of its own kind (not a removal of the object)."""
    m = _EXTRACT.match(s)
    if not m:
        return None
    obj = noun_phrase(re.split(r"\s+(?:from|out of)\s+", m["x"])[0])
    return in_place("other", obj) if obj.text else None


def remove(s: str, c: Context) -> Reading | None:
    """"remove/erase/get rid of X (from Y)", "take X off Y"."""
    take = _TAKE_OFF.match(s)
    if take and not s.startswith(("take away", "take out", "take off")):
        reading = removal_of(take["x"])
        if take["origin"] and reading.locator is None:
            reading.locator = read_locator("from " + take["origin"])
        return reading
    m = _REMOVE.match(s)
    if not m:
        return None
    if s.startswith("take ") and not s.startswith(("take away", "take out", "take off")):
        return None
    text = m["x"]
    swap = re.match(r"^(?P<x>.+?),?\s+(?:and\s+)?replac(?:e|ing)\s+(?:it|them)\s+with\s+(?P<y>.+)$",
                    text)
    if swap:
        # "remove the background, replacing it with a white one": a replacement
        return change(swap["x"], swap["y"], new_object=True)
    if re.search(r"\b(?:image|photo|photograph|picture|pic|shot)$", text):
        return whole_image()  # "clean up the grainy, dim photo": a restoration
    text = re.sub(r"\s+(?:out|away|off)$", "", text)
    head, _, origin = text.partition(" from ")
    reading = removal_of(head if origin else text)
    if origin and reading.locator is None:
        reading.locator = read_locator("from " + origin)
    return reading
