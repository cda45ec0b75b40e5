"""KeySource: signing keys read, rotated (next becomes current) and rotated under a race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from functions.domain.errors import ConflictError
from functions.domain.signing import ROTATION_GRACE, SigningKeys
from functions.local.defaults import DEV_SIGNING_KEYS as KEYS
from functions.ports import Adapters
from tests.contract.builders import T0, at


def test_keys_read_back_as_provisioned(backend: Adapters) -> None:
    assert backend.keys.signing_keys() == KEYS


def test_rotation_moves_next_to_current_and_keeps_the_old_current_for_the_grace(
    backend: Adapters,
) -> None:
    # When the keys are rotated
    rotated = backend.keys.rotate("sig_new_next", now=T0)
    # Then next became current, the new key is next, and the old current is kept for a day
    assert rotated == SigningKeys(
        current=KEYS.next,
        next="sig_new_next",
        previous=KEYS.current,
        previous_until=T0 + ROTATION_GRACE,
    )
    # And that is what is read back
    assert backend.keys.signing_keys() == rotated


def test_a_second_rotation_after_the_grace_drops_the_expired_previous_key(
    backend: Adapters,
) -> None:
    backend.keys.rotate("sig_second", now=T0)
    later = T0 + ROTATION_GRACE + ROTATION_GRACE
    # When rotated again two days later
    again = backend.keys.rotate("sig_third", now=later)
    # Then the chain moved on by one, and only the key it replaced is kept
    assert (again.current, again.next, again.previous) == ("sig_second", "sig_third", KEYS.next)
    assert again.previous_until == later + ROTATION_GRACE


def test_concurrent_rotations_never_lose_one_silently(backend: Adapters) -> None:
    # When 8 rotations race (each with its own new key)
    def rotate(n: int) -> SigningKeys | None:
        try:
            return backend.keys.rotate(f"sig_racer_{n}", now=at(n))
        except ConflictError:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [r for r in pool.map(rotate, range(8)) if r is not None]
    # Then at least one succeeded, every success continued the chain of another (none
    # overwrote a rotation it did not see), and the stored keys are the last of them
    assert results
    nexts = {KEYS.next} | {r.next for r in results}
    assert all(r.current in nexts for r in results)
    currents = [r.current for r in results]
    assert len(set(currents)) == len(currents), "two rotations replaced the same keys"
    assert backend.keys.signing_keys() in results
