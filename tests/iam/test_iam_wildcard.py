"""The ``*``/``?`` glob: cases in the spirit of Ceph RGW's MatchWildcards tests (re-authored)."""

from __future__ import annotations

import pytest

from dbs.iam.wildcard import glob_match, has_wildcard


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("", "", True),
        ("", "a", False),
        ("a", "", False),
        ("*", "", True),
        ("*", "anything:at/all", True),
        ("?", "", False),
        ("?", "a", True),
        ("?", "ab", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a*c", "ac", True),
        ("a*c", "abbbc", True),
        ("a*c", "abbbd", False),
        ("*c", "abc", True),
        ("a*", "abc", True),
        ("**", "x", True),
        ("*?", "", False),
        ("*?", "x", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "aXcYb", False),
        ("*a*a*a*b", "a" * 40, False),  # backtracking stays polynomial
        ("acs:oss:*:*:bucket/*", "acs:oss:cn-hangzhou:1:bucket/d/o.jpg", True),
        ("acs:oss:*:*:bucket", "acs:oss:cn-hangzhou:1:bucket/o", False),
        ("[ab]", "a", False),  # '[' is literal: not fnmatch
        ("[ab]", "[ab]", True),
        ("a\\*", "a\\xyz", True),  # no escape syntax: backslash is literal
    ],
)
def test_glob(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text) is expected


def test_case_sensitive_by_default_and_insensitive_on_request() -> None:
    assert not glob_match("ecs:Describe*", "ECS:describeinstances")
    assert glob_match("ecs:Describe*", "ECS:describeinstances", ignore_case=True)
    assert glob_match("ECS:DESCRIBE?NSTANCES", "ecs:describeInstances", ignore_case=True)


def test_has_wildcard() -> None:
    assert has_wildcard("dbs:*") and has_wildcard("a?") and not has_wildcard("dbs:Describe")
