"""The constant-time API-key comparison."""

from __future__ import annotations

import pytest

from app.auth import key_is_valid

KEYS = (b"key-one", b"key-two", b"key-three")


@pytest.mark.parametrize("presented", ["key-one", "key-two", "key-three"])
def test_any_configured_key_is_valid(presented: str) -> None:
    assert key_is_valid(presented, KEYS) is True


@pytest.mark.parametrize(
    "presented",
    [
        "key-four",
        "key",  # a prefix
        "key-one-and-more",  # an extension
        "KEY-ONE",  # case matters
        " key-one",  # so does whitespace
        "key-one,key-two",  # not a list
        "",
    ],
)
def test_anything_else_is_invalid(presented: str) -> None:
    assert key_is_valid(presented, KEYS) is False


@pytest.mark.parametrize("presented", ["", "anything", "key-one"])
def test_no_configured_keys_accept_nothing(presented: str) -> None:
    assert key_is_valid(presented, ()) is False


def test_single_key() -> None:
    assert key_is_valid("only", (b"only",)) is True
    assert key_is_valid("other", (b"only",)) is False


def test_non_ascii_keys_compare_as_utf8() -> None:
    keys = ("ключ-ü".encode(),)
    assert key_is_valid("ключ-ü", keys) is True
    assert key_is_valid("ключ-u", keys) is False
