"""RAM's two-character glob: ``*`` (any run, possibly empty) and ``?`` (exactly one character).

RAM documents only these two wildcards and no escape syntax, so every other
character is literal. ``fnmatch`` is not used on purpose: it also treats
``[...]`` as a character class, which would make ``acs:oss:*:*:bucket/[1]``
match ``bucket/1`` instead of the literal name.

Patterns match the *whole* string, and ``*`` crosses ``:`` and ``/``: RAM does
not describe AWS's per-ARN-segment rule, so ``acs:oss:*:*:mybucket/*`` covers
every object under the bucket (see docs/iam.md, "UNVERIFIED decisions").
"""

from __future__ import annotations

__all__ = ["glob_match", "has_wildcard"]


def has_wildcard(pattern: str) -> bool:
    """True if ``pattern`` contains ``*`` or ``?``."""
    return "*" in pattern or "?" in pattern


def glob_match(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """Whether ``pattern`` matches all of ``text``.

    Greedy scan with single-star backtracking: O(len(pattern) * len(text)) in the
    worst case and no recursion, so hostile patterns such as ``*a*a*a*a*b``
    cannot blow the stack or take exponential time.
    """
    if ignore_case:
        pattern = pattern.lower()
        text = text.lower()
    p = t = 0
    star_p = -1  # position in pattern just after the most recent '*'
    star_t = 0  # position in text that the most recent '*' has consumed up to
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star_p = p + 1
            star_t = t
            p += 1
        elif star_p != -1:
            # Let the last '*' swallow one more character and retry from there.
            star_t += 1
            t = star_t
            p = star_p
        else:
            return False
    # Trailing stars match the empty rest of the text.
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)
