"""KillSwitchStore: switches on, listed, and off."""

from __future__ import annotations

from functions.ports import Adapters, KillSwitch
from tests.contract.builders import T0, at


def test_no_switch_is_on_at_first(backend: Adapters) -> None:
    # Given a fresh store
    # Then no switch is on, and turning one off says it was not
    assert backend.kill_switches.all() == []
    assert backend.kill_switches.turn_off("global") is False


def test_switches_turned_on_are_listed_until_turned_off(backend: Adapters) -> None:
    # Given two switches turned on
    backend.kill_switches.turn_on("global", reason="incident 7", now=T0)
    backend.kill_switches.turn_on("flow:flow-1", reason=None, now=at(1))
    # Then both are listed with their reason and time
    assert set(backend.kill_switches.all()) == {
        KillSwitch("global", "incident 7", T0),
        KillSwitch("flow:flow-1", None, at(1)),
    }
    # When one is turned off: True the first time, False after
    assert backend.kill_switches.turn_off("global") is True
    assert backend.kill_switches.turn_off("global") is False
    # Then only the other one is on
    assert backend.kill_switches.all() == [KillSwitch("flow:flow-1", None, at(1))]


def test_turning_a_switch_on_again_replaces_its_reason_and_time(backend: Adapters) -> None:
    # Given a switch that is on
    backend.kill_switches.turn_on("global", reason="incident 7", now=T0)
    # When it is turned on again with another reason
    backend.kill_switches.turn_on("global", reason="incident 8", now=at(60))
    # Then it is listed once, with the new reason and time
    assert backend.kill_switches.all() == [KillSwitch("global", "incident 8", at(60))]
    # And one turn_off turns it off
    assert backend.kill_switches.turn_off("global") is True
    assert backend.kill_switches.all() == []
