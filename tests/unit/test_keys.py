"""Signing keys from generated material, and API token digests."""

from __future__ import annotations

import hashlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.adapters.aws.keys import keys_from_material
from functions.domain.auth import hash_token

MATERIAL_64 = string.ascii_letters + string.digits + "-_"  # exactly 64 characters


def test_64_characters_make_two_sig_keys_from_the_halves() -> None:
    assert len(MATERIAL_64) == 64
    keys = keys_from_material(MATERIAL_64)
    assert keys.current == "sig_" + MATERIAL_64[:32]
    assert keys.next == "sig_" + MATERIAL_64[32:]


def test_surrounding_whitespace_is_not_part_of_the_material() -> None:
    keys = keys_from_material(f"  {MATERIAL_64}\n")
    assert keys.current == "sig_" + MATERIAL_64[:32]
    assert keys.next == "sig_" + MATERIAL_64[32:]


@pytest.mark.parametrize("material", ["", "x" * 63, "  " + "x" * 63 + "\n"])
def test_less_than_64_characters_is_refused(material: str) -> None:
    with pytest.raises(ValueError, match="at least 64 characters"):
        keys_from_material(material)


@given(
    material=st.text(
        alphabet=string.ascii_letters + string.digits + "-_", min_size=64, max_size=200
    )
)
def test_the_two_keys_partition_the_material(material: str) -> None:
    # Given any long enough material, then the keys are its two halves, each prefixed `sig_`.
    keys = keys_from_material(material)
    assert keys.current.startswith("sig_")
    assert keys.next.startswith("sig_")
    assert keys.current[4:] + keys.next[4:] == material
    assert 0 <= len(keys.next) - len(keys.current) <= 1


def test_hash_token_is_the_sha256_hex_digest() -> None:
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize("padded", [" abc", "abc\n", "\tabc \r\n"])
def test_hash_token_strips_whitespace(padded: str) -> None:
    assert hash_token(padded) == hash_token("abc")


def test_different_tokens_hash_differently() -> None:
    assert hash_token("abc") != hash_token("abd")
