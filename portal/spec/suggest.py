"""Did-you-mean suggestions for misspelled names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: How similar a candidate must be (difflib ratio) to be suggested.
CUTOFF = 0.6


def suggest(word: object, choices: Iterable[str], *, cutoff: float = CUTOFF) -> str | None:
    """The choice closest to ``word``, or ``None`` when nothing is close enough.

    A choice equal to ``word`` but for case wins outright (``zh_cn`` -> ``zh_CN``).
    """
    if not isinstance(word, str) or not word:
        return None
    options = sorted(set(choices))
    for option in options:
        if option.lower() == word.lower() and option != word:
            return option
    matches = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    if matches and matches[0] != word:
        return matches[0]
    lowered = {o.lower(): o for o in options}
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    if matches and lowered[matches[0]] != word:
        return lowered[matches[0]]
    return None
