"""Run-derived text (run names, values, hyperparameter and metric names) made inert beyond
Markdown/HTML escaping (:func:`reports.render.esc`, ``html.escape``):

- :func:`no_bidi` shows bidirectional controls (U+202E "right-to-left override" ...) as
  visible ``⟨U+202E⟩`` instead of letting them reorder the text around them (pages, charts,
  ``summary.md``);
- :func:`no_github_refs` keeps GitHub from acting on a posted ``summary.md``: no ``@user`` or
  ``@org/team`` mention, no ``#123`` / ``GH-12`` / ``owner/repo#1`` issue reference, no
  ``http://``, ``https://``, ``www.`` or e-mail autolink, no commit-hash link, no
  ``:emoji:`` shortcode. A word joiner (U+2060, invisible, no width) goes inside each
  trigger, which the patterns then no longer match;
- :func:`short` cuts a label for display (the full text belongs in the tooltip).
"""
from __future__ import annotations

import re

#: Invisible, zero-width, and not a word character: breaks GitHub's mention/reference/autolink
#: patterns while the text reads the same.
JOINER = "\u2060"
#: Bidirectional embedding, override and isolate controls, and the implicit marks.
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
LABEL_CHARS = 60

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


def no_bidi(text: str) -> str:
    """``text`` with each bidirectional control shown as ``⟨U+XXXX⟩``."""
    return BIDI.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)


def no_github_refs(text: str) -> str:
    """``text`` (plain, before Markdown escaping) that GitHub will not turn into a mention, an
    issue reference, an autolink or an emoji; reads the same."""
    for pattern, repl in _GITHUB:
        text = pattern.sub(repl, text)
    return _SHA.sub(r"\1" + JOINER + r"\2", text)


def short(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` cut to ``limit`` characters for a label (``…`` marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def for_page(value) -> str:
    """Run-derived ``value`` as text for a page or a chart (bidi controls made visible)."""
    return no_bidi("" if value is None else str(value))


def for_github(value) -> str:
    """Run-derived ``value`` as plain text for ``summary.md``, before Markdown escaping."""
    return no_github_refs(no_bidi("" if value is None else str(value)))
