"""Escaping of untrusted strings for GitHub Markdown, links and Mermaid labels.

Column names, category values, metric names and paths come from data, config or an
artifact another workflow produced. `md` makes any such value inert: it cannot break
a table (``|``, newlines), inject HTML (``<script>``), open a code span or fence
(backticks), start a link, render math (``$``), @-mention a person or team, or
cross-reference an issue (``#1``, ``GH-1``); invisible and right-to-left control
characters are shown as ``[U+202E]`` so they cannot reorder what a reviewer reads;
long values are cut.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

__all__ = [
    "MAX_VALUE_CHARS",
    "cell",
    "code",
    "fmt_number",
    "md",
    "mermaid_label",
    "plain_number",
    "safe_url",
    "xml_text",
]

MAX_VALUE_CHARS = 200
# A zero-width space, written as an entity so the Markdown source stays ASCII: GitHub
# does not link ``@<zwsp>team`` or ``#<zwsp>1`` (Renovate and Dependabot do the same).
_ZWSP = "&#8203;"
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_BACKSLASH = set("\\`*_[]|~$!{}")
# Characters that change how text is displayed without being visible.
_INVISIBLE = re.compile(
    "[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]"
)


def _visible(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in "\n\r\t\v\f":
            out.append(" ")
        elif _INVISIBLE.match(ch) or unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cs"}:
            out.append(f"[U+{ord(ch):04X}]")
        else:
            out.append(ch)
    return "".join(out)


_TABLE = str.maketrans(
    {
        **_HTML,
        **{c: "\\" + c for c in _BACKSLASH},
        "@": "@" + _ZWSP,
        "#": "#" + _ZWSP,
    }
)
# Contextual breaks: GH-123 references, scheme:// and www. autolinks.
_CONTEXT = re.compile(r"(?i)(?<=\bGH)-(?=\d)|:(?=//)|(?<=\bwww)\.")


def md(value: Any, max_chars: int = MAX_VALUE_CHARS) -> str:
    """``value`` as inert inline Markdown, safe in a table cell, a list item or prose.

    Args:
        value: Anything; it is turned into text with ``str``.
        max_chars: Longer values are cut and end with ``…`` and the number of
            characters left out.
    """
    text = value if isinstance(value, str) else str(value)
    cut = ""
    if len(text) > max_chars:
        cut = f"… (+{len(text) - max_chars:,} chars)"
        text = text[:max_chars]
    text = _visible(text).translate(_TABLE)
    text = _CONTEXT.sub(lambda m: _ZWSP + "-" if m.group() == "-" else m.group() + _ZWSP, text)
    return text + cut


def safe_url(value: Any) -> str | None:
    """``value`` if it is a plain http(s) URL safe to put in ``[text](url)``, else None."""
    if not isinstance(value, str) or len(value) > 2000:
        return None
    if not re.fullmatch(
        r"https?://[A-Za-z0-9.\-]+(:\d+)?(/[A-Za-z0-9._~%!$&'*+,;=:@/\-]*)?", value
    ):
        return None
    if any(c in value for c in "()<>\"'` "):
        return None
    return value


def mermaid_label(value: Any, max_chars: int = 24) -> str:
    """A Mermaid label that cannot end its quotes, the code fence or the diagram."""
    text = re.sub(r"[^A-Za-z0-9 _.:/+-]", "_", _visible(str(value)))
    text = text.strip() or "_"
    return text if len(text) <= max_chars else text[: max_chars - 1] + "~"


def xml_text(value: Any, max_chars: int = 80) -> str:
    """Text for an SVG or HTML element: markup escaped, invisible characters shown, cut."""
    text = _visible(str(value))
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return "".join(_HTML.get(c, c) for c in text).replace("'", "&#x27;")


def fmt_number(
    value: Any, *, signed: bool = False, percent: bool = False, plain: bool = False
) -> str:
    """A number for a report cell (4 significant digits); ``—`` for missing or non-numbers.

    ``plain`` keeps an ASCII minus sign, for messages read in a terminal or a log.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    if percent:
        text = f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"
    elif isinstance(value, int):
        text = f"{value:+,d}" if signed else f"{value:,d}"
    else:
        text = f"{value:+.4g}" if signed else f"{value:.4g}"
    return "\u2212" + text[1:] if text.startswith("-") and not plain else text


def cell(value: Any, max_chars: int = MAX_VALUE_CHARS) -> str:
    """``value`` for a table cell: numbers by `fmt_number`, None as ``—``, text by `md`.

    Every pipeline's summary, pull request body and issue body formats values from
    data or an artifact through this (or `md`), never through an escaper of its own.
    """
    if value is None:
        return "—"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return fmt_number(value)
    return md(value, max_chars)


_CODE = re.compile(r"[A-Za-z0-9_.:/+=-]{1,80}")


def code(value: Any) -> str:
    """``value`` as an inline code span when it is a plain identifier, else as `md` text.

    Backslash escapes show literally inside a code span, so only identifiers (check
    codes, metric names, short hashes) are put in one; anything else is escaped text.
    """
    text = value if isinstance(value, str) else str(value)
    return f"`{text}`" if _CODE.fullmatch(text) else md(text)


def plain_number(value: Any) -> str:
    """A number for a message read in a terminal or a log: `fmt_number` with an ASCII minus."""
    return fmt_number(value, plain=True)
