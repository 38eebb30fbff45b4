"""ETag rendering and the conditional-request headers, as RFC 9110 defines them."""

from __future__ import annotations

import pytest

from app.items.etag import check_if_match, etag, matches_if_none_match, parse_if_match


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


@pytest.mark.parametrize(
    "header", ["*", " * ", '"3"', 'W/"3"', '"3", W/"4" ,"a!b"', "", ", ,", '"3",', '"\xb2"']
)
def test_if_match_syntax_accepts_the_rfc_grammar(header: str) -> None:
    assert check_if_match(header) == header


@pytest.mark.parametrize(
    "header", ["3", "garbage", '"3', '"3" "4"', '*, "3"', 'w/"3"', '"a"b"', '"a b"']
)
def test_malformed_if_match_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match="If-Match must be"):
        check_if_match(header)


def test_if_match_syntax_check_is_linear_on_hostile_input() -> None:
    """Nested repetition that could match one character two ways would take exponential time
    on a long header that fails at its end; a 16 kB one must be refused at once."""
    for hostile in (" ," * 8000 + "x", '"a" ,' * 3000 + "x", "\t" * 16000 + "x"):
        with pytest.raises(ValueError, match="If-Match must be"):
            check_if_match(hostile)
