"""Run-derived text (run names, values, hyperparameter and metric names) made inert beyond
Markdown/HTML escaping (:func:`reports.render.esc`, ``html.escape``):

- :func:`visible` shows bidirectional controls (U+202E "right-to-left override" ...) as
  visible ``⟨U+202E⟩`` instead of letting them reorder the text around them, and so every
  other invisible character (:data:`INVISIBLE`: zero-width spaces and joiners, the soft
  hyphen, the byte-order mark, variation selectors, tags ...), so that ``l<U+200B>r`` does
  not print as ``lr`` (pages, charts, ``summary.md``);
- :func:`no_github_refs` keeps GitHub from acting on a posted ``summary.md``: no ``@user`` or
  ``@org/team`` mention, no ``#123`` / ``GH-12`` / ``owner/repo#1`` issue reference, no
  ``http://``, ``https://``, ``www.`` or e-mail autolink, no commit-hash link, no
  ``:emoji:`` shortcode. A word joiner (U+2060, invisible, no width) goes inside each
  trigger, which the patterns then no longer match;
- :func:`for_vega` keeps Vega from reading a string as a member of JavaScript's
  ``Object.prototype``: a hyperparameter named ``constructor`` or ``toString`` as a title,
  a field, a sort order or a level broke the charts ("Operator not defined"). A word joiner
  after such a string makes it another key, and it reads the same;
- :func:`short` cuts a label for display (the full text belongs in the tooltip);
  :func:`cut_long` shortens the overlong words (a 100,000-character name) of a text for
  ``summary.md``, which GitHub refuses over 65,536 characters.
"""
from __future__ import annotations

import re

#: Invisible, zero-width, and not a word character: breaks GitHub's mention/reference/autolink
#: patterns while the text reads the same.
JOINER = "\u2060"
#: Bidirectional embedding, override and isolate controls, and the implicit marks.
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
#: What prints as nothing (or as a blank it does not own): Unicode's default-ignorable code
#: points (Default_Ignorable_Code_Point), every format character (category Cf, bidi controls
#: among them) and the line and paragraph separators.
INVISIBLE = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160"
    "\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")
LABEL_CHARS = 60
#: The names of ``Object.prototype``'s members, which Vega's plain-object lookups find in every
#: object (a title, field, literal or level equal to one of them breaks a chart).
JS_PROTOTYPE = frozenset({
    "constructor", "__proto__", "__defineGetter__", "__defineSetter__", "__lookupGetter__",
    "__lookupSetter__", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
    "toLocaleString", "toString", "valueOf"})

_GITHUB = [
    # @user, @org/team (and the @ of e-mail addresses: GitHub autolinks user@host.tld)
    (re.compile(r"@(?=[A-Za-z0-9_])"), "@" + JOINER),
    # #123, owner/repo#123, #123 after letters (GitHub needs a non-word before #, but be strict)
    (re.compile(r"#(?=\d)"), "#" + JOINER),
    # GH-123
    (re.compile(r"\b(GH)(?=-\d)", re.IGNORECASE), r"\1" + JOINER),
    # http://, https://, ftp://, any scheme:// ; and www.
    (re.compile(r"(?<=[A-Za-z])(?=://)"), JOINER),
    (re.compile(r"\b(w)(?=ww\.)", re.IGNORECASE), r"\1" + JOINER),
    # mailto:, xmpp: autolinks of GFM's extended autolinks
    (re.compile(r"\b(mailto|xmpp)(?=:)", re.IGNORECASE), r"\1" + JOINER),
    # :shortcode: emoji
    (re.compile(r":(?=(?:[a-z0-9_+\-]*[a-z][a-z0-9_+\-]*|[+\-]1):)", re.IGNORECASE), ":" + JOINER),
]
# 7 to 40 hex digits with a digit and a letter among them: GitHub links it as a commit.
_SHA = re.compile(r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])([0-9a-f])([0-9a-f]{6,39})\b",
                  re.IGNORECASE)


def visible(text: str, *, keep: str = "") -> str:
    """``text`` with each invisible character (:data:`INVISIBLE`, bidi controls included)
    shown as ``⟨U+XXXX⟩``, except those in ``keep``."""
    return INVISIBLE.sub(lambda m: m.group() if m.group() in keep else f"⟨U+{ord(m.group()):04X}⟩",
                         text)


#: The earlier name of :func:`visible` (it showed bidi controls only).
no_bidi = visible


def no_github_refs(text: str) -> str:
    """``text`` (plain, before Markdown escaping) that GitHub will not turn into a mention, an
    issue reference, an autolink or an emoji; reads the same."""
    for pattern, repl in _GITHUB:
        text = pattern.sub(repl, text)
    return _SHA.sub(r"\1" + JOINER + r"\2", text)


def for_vega(text: str) -> str:
    """``text`` with its invisible characters made visible (:func:`visible`), and a
    :data:`JOINER` after it when it is the name of a member of JavaScript's ``Object.prototype``
    (:data:`JS_PROTOTYPE`), so that Vega reads it as text, not as that member."""
    text = visible(text)
    return text + JOINER if text in JS_PROTOTYPE else text


def short(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` cut to ``limit`` characters for a label (``…`` marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cut_long(text: str, *, word: int, whole: int) -> str:
    """``text`` with each run of non-blank characters longer than ``word`` cut to ``word``
    (``…`` marks the cut), then the whole cut to ``whole``: a name shortened, never dropped."""
    if len(text) <= word:
        return text
    text = re.sub(r"\S{%d,}" % (word + 1), lambda m: m.group()[: word - 1] + "…", text)
    return short(text, whole)


def for_page(value) -> str:
    """Run-derived ``value`` as text for a page or a chart (invisible characters made visible)."""
    return visible("" if value is None else str(value))


def for_github(value) -> str:
    """Run-derived ``value`` as plain text for ``summary.md``, before Markdown escaping."""
    return no_github_refs(visible("" if value is None else str(value)))
