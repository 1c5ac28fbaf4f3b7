"""Credentials in URIs masked: the one redaction, used where runs are fetched (the tracking URI
an adapter records) and where a snapshot is read (whatever tool or branch wrote it).

:func:`redact_uri` masks one URI; :func:`redact_text` every ``scheme://`` URI inside a text;
:func:`redact_json` every string inside a JSON value (a snapshot's metadata).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

#: A ``scheme://...`` URI inside free text, up to white space or a quote; trailing punctuation
#: (the full stop of a sentence) is not part of it.
_URI = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>`]*[^\s"'<>`.,;:!?)\]]""")


def redact_uri(uri: str) -> str:
    """``uri`` with its credentials masked: user info and every query value become ``***``.

    ``http://user:secret@host:5000/x?token=abc`` -> ``http://***@host:5000/x?token=***``;
    a URI without credentials (``sqlite:///mlflow.db``, a path) comes back unchanged.
    """
    try:
        parts = urlsplit(str(uri))
        netloc = parts.netloc
    except ValueError:
        return "<unparseable tracking URI>"
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(f"{quote(k, safe='')}=***" for k, _ in pairs) if pairs else "***"
    fragment = "***" if parts.fragment else ""
    if netloc == parts.netloc and query == parts.query and fragment == parts.fragment:
        return str(uri)
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_text(text: str) -> str:
    """``text`` with each ``scheme://`` URI in it passed through :func:`redact_uri`."""
    return _URI.sub(lambda m: redact_uri(m.group()), text) if "://" in text else text


def redact_json(value):
    """``value`` (parsed JSON: dicts, lists, strings, numbers) with :func:`redact_text` applied
    to every string in it, keys included."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_json(k): redact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v) for v in value]
    return value
