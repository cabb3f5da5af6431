"""Speed and memory work must not change a number: golden digests of whole runs.

Each case is a scenario, a horizon and a seed, with mechanisms switched on through
overrides, so that every branch of the engine (triage, the ladder, deadlines, shirking,
brush-offs and callbacks, mediation and declining, borrowing a woman, hand-offs between
desks, reopening) is in some digest. The digests were computed with the code of 0.4.0 plus
issue 16 (commit 18adc0b); a change to the engine, its set-up or the tables that alters any
table, KPI or breakdown of any of these runs fails here. A deliberate change of the model
updates the digests in the same commit and says why.
"""

from __future__ import annotations

import pytest
from test_tables_speed import _run_digest

import gridsim
from gridsim.model.loader import with_overrides

CASES = [
    # (scenario, days, seed, overrides, digest)
    ("pingyi_baseline.toml", 30, 4, {}, "1c8f44fa96e03292"),
    ("pingyi_before_reform.toml", 30, 4, {}, "58517437e63601e5"),
    ("chayekou.toml", 60, 2, {"meta.warmup_days": 0}, "091db78a6483d470"),
    ("one_town.toml", 400, 1, {}, "8091a731d75c351e"),
    (
        "one_town.toml", 60, 3,
        {"escalation.policy": "deadline", "escalation.shirking_probability": 0.2,
         "externality.minority_negative_policy": "decline", "team.no_woman_action": "escalate",
         "satisfaction.reopen_probability": 0.6},
        "36bb938b95acb7b9",
    ),
    (
        "one_town.toml", 60, 5,
        {"escalation.policy": "skip_level_urgent", "supervision.brush_off_intercept": -1.0,
         "supervision.callback_rate": 0.9, "centre.handoff_hours": 2.0,
         "centre.merged_handoff_hours": 0.5, "team.help_share": 0.3},
        "322d0f95f2080290",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scenario", "days", "seed", "overrides", "digest"),
    CASES,
    ids=[f"{c[0]}-{c[1]}d-seed{c[2]}{'-mechanisms' if c[3] else ''}" for c in CASES],
)
def test_a_run_is_what_it_was(repo, scenario, days, seed, overrides, digest):
    s = gridsim.load_scenario(repo / "scenarios" / scenario)
    if overrides:
        s = with_overrides(s, overrides)
    assert _run_digest(gridsim.simulate(s, seed=seed, days=days)) == digest
