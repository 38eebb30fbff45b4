"""ETag rendering and the conditional-request headers, as RFC 9110 defines them."""

from __future__ import annotations

import pytest

from app.items.etag import etag, matches_if_none_match, parse_if_match


@pytest.mark.parametrize(
    ("version", "tag"), [(1, '"1"'), (42, '"42"'), (2**31 - 1, '"2147483647"')]
)
def test_etag_is_the_quoted_version(version: int, tag: str) -> None:
    assert etag(version) == tag


@pytest.mark.parametrize("header", [None, "*", " * ", "\t*  "])
def test_absent_or_star_if_match_sets_no_condition(header: str | None) -> None:
    assert parse_if_match(header) is None


@pytest.mark.parametrize(
    ("header", "versions"),
    [
        ('"3"', {3}),
        ('  "3"  ', {3}),
        ('"1", "2"', {1, 2}),
        ('"1","2" ,  "9"', {1, 2, 9}),
        ('"5", "5"', {5}),
        ('W/"3", "4"', {4}),
        ('"1", *', {1}),
        ('"1", garbage, "2"', {1, 2}),
        ('"0"', {0}),
    ],
)
def test_if_match_lists_strong_tags(header: str, versions: set[int]) -> None:
    assert parse_if_match(header) == frozenset(versions)


@pytest.mark.parametrize(
    "header",
    [
        'W/"3"',  # weak: never equal under strong comparison
        'w/"3"',
        "3",  # unquoted
        '"3',
        '3"',
        '""',
        '"',
        '"abc"',
        '"-1"',
        '"+1"',
        '"1.0"',
        '" 1"',
        "garbage",
        "",
        ",,,",
    ],
)
def test_if_match_without_a_usable_strong_tag_matches_nothing(header: str) -> None:
    assert parse_if_match(header) == frozenset()


@pytest.mark.parametrize(
    "header",
    [
        '"\u00b2"',  # '²' arrives as one latin-1 header byte; isdigit() is True, int() fails
        '"\u0663"',  # an Arabic-Indic 3: isdigit() is True, but it is not the tag "3"
        '"007"',  # strong comparison is octet by octet: not the tag "7"
    ],
)
def test_if_match_with_non_canonical_digits_matches_nothing(header: str) -> None:
    assert parse_if_match(header) == frozenset()


@pytest.mark.parametrize(
    ("header", "version"),
    [
        ('"1"', 1),
        ('W/"1"', 1),  # weak comparison: the W/ prefix is ignored
        ('"2", "1"', 1),
        ('"9" ,  W/"2"', 2),
        ("*", 7),
        (" * ", 7),
        ('"3", *', 7),
    ],
)
def test_if_none_match_hits(header: str, version: int) -> None:
    assert matches_if_none_match(header, version) is True


@pytest.mark.parametrize(
    ("header", "version"),
    [
        (None, 1),
        ("", 1),
        ('"2"', 1),
        ('"01"', 1),
        ("1", 1),
        ('w/"1"', 1),  # the weak indicator is case-sensitive
        ('W/ "1"', 1),
        ("garbage", 1),
        ('"12"', 1),
        ('"1"', 12),
    ],
)
def test_if_none_match_misses(header: str | None, version: int) -> None:
    assert matches_if_none_match(header, version) is False
