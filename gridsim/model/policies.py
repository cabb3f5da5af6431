"""Escalation rules as small strategy objects.

A policy answers two questions for the engine: at which level does the platform first
dispatch a new work order, and does a level's time limit send queued orders up. Everything
else (handling, resolving, escalating one level when a level cannot resolve) is the same for
every rule, and shirking (a level passing an order up without trying) is a parameter that
applies under any rule.

Levels: 0 micro-grid, 1 grid, 2 town, 3 county.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from gridsim.model.scenario import Scenario

#: Where a new order goes first, and whether that level is the wrong one (too high). A plain
#: tuple: the engine asks for one per order, so it must cost next to nothing.
Dispatch = tuple[int, bool]


class EscalationPolicy(Protocol):
    """What every escalation rule provides."""

    # Read-only: the policies are frozen dataclasses.
    @property
    def name(self) -> str:
        """The policy's key in ``escalation.policy``."""
        ...

    @property
    def triages(self) -> bool:
        """Whether the platform judges where an order belongs (精准研判) before dispatching."""
        ...

    @property
    def uses_deadlines(self) -> bool:
        """Whether a waiting order escalates when its level's time limit passes."""
        ...

    def first_level(self, origin_level: int, settle_level: int, urgent: bool, u: float) -> Dispatch:
        """The level of first dispatch for an order.

        Args:
            origin_level: the lowest level that exists where the issue arose (0, or 1 for an
                exclusive grid).
            settle_level: the lowest level whose unit would settle it (the capability draws;
                computed only for a policy that ``triages``, else the origin level).
            urgent: the order is urgent.
            u: a uniform(0, 1) draw from the routing stream, for misclassification.
        """
        ...


@dataclass(frozen=True)
class StrictLadder:
    """Every order starts at the bottom and climbs one level at a time."""

    name: str = "strict_ladder"
    uses_deadlines: bool = False
    triages: bool = False

    def first_level(self, origin_level: int, settle_level: int, urgent: bool, u: float) -> Dispatch:
        """Always the lowest level."""
        return origin_level, False


@dataclass(frozen=True)
class DirectTriage:
    """The platform sends an order straight to the level that would settle it, sometimes wrongly.

    This is dispatch as the practice describes it (精准研判, 按职责权限派单): the platform
    triages each order to whoever holds the responsibility.

    With probability ``misclassification_rate`` the order lands one level too low (it then
    climbs the ladder) or one level too high (that level sends it back down).
    """

    misclassification_rate: float
    name: str = "direct_triage"
    uses_deadlines: bool = False
    triages: bool = True

    def first_level(self, origin_level: int, settle_level: int, urgent: bool, u: float) -> Dispatch:
        """The settling level, or a neighbouring level when misclassified."""
        m = self.misclassification_rate
        if u >= m:
            return settle_level, False
        level = settle_level - 1 if u < m / 2 else settle_level + 1
        level = min(max(level, origin_level), 3)
        return level, level > settle_level


@dataclass(frozen=True)
class SkipLevelUrgent:
    """Urgent orders go straight to the level that would settle them; the rest climb."""

    name: str = "skip_level_urgent"
    uses_deadlines: bool = False
    triages: bool = True

    def first_level(self, origin_level: int, settle_level: int, urgent: bool, u: float) -> Dispatch:
        """The settling level when urgent, else the lowest level."""
        return (settle_level if urgent else origin_level), False


@dataclass(frozen=True)
class DeadlineLadder:
    """The ladder, plus: an order still waiting when its level's time limit expires goes up."""

    name: str = "deadline"
    uses_deadlines: bool = True
    triages: bool = False

    def first_level(self, origin_level: int, settle_level: int, urgent: bool, u: float) -> Dispatch:
        """Always the lowest level."""
        return origin_level, False


def make_policy(scenario: Scenario) -> EscalationPolicy:
    """The escalation policy a scenario asks for.

    Example:
        >>> from gridsim import load_scenario
        >>> make_policy(load_scenario("scenarios/one_town.toml")).name
        'direct_triage'
    """
    esc = scenario.escalation
    makers: dict[str, Callable[[], EscalationPolicy]] = {
        "strict_ladder": StrictLadder,
        "direct_triage": lambda: DirectTriage(esc.misclassification_rate),
        "skip_level_urgent": SkipLevelUrgent,
        "deadline": DeadlineLadder,
    }
    return makers[esc.policy]()
