"""The model's one vocabulary: levels, desks, incident types, event codes and random streams.

Every other module takes these names from here, so a level is spelled the same way in the
scenario schema, the engine, the tables, the KPIs and the figures.

Example:
    >>> LEVELS[GRID], EVENT_CODES[ESCALATE]
    ('grid', 'escalate')
"""

from __future__ import annotations

from typing import Literal, get_args

#: The levels of the hierarchy, bottom up; a level's code is its index.
LEVELS: tuple[str, ...] = ("microgrid", "grid", "town", "county")
MICROGRID, GRID, TOWN, COUNTY = range(len(LEVELS))
#: Code of "no level" in tables (an order still open, an event not tied to a level).
NO_LEVEL = -1

#: Externality classes of an issue, by code: none, positive (serves many households), or a
#: minority interest with a negative externality on others.
EXTERNALITY: tuple[str, ...] = ("none", "positive", "minority_negative")
NO_EXTERNALITY, POSITIVE, MINORITY_NEGATIVE = range(len(EXTERNALITY))

#: The four desks of a one-stop centre (综治中心).
Desk = Literal["grid_management", "hotline", "petition", "mediation"]
DESKS: tuple[str, ...] = get_args(Desk)
DESK_INDEX: dict[str, int] = {d: i for i, d in enumerate(DESKS)}

#: The kinds of serious incident an unresolved issue can turn into.
IncidentType = Literal["abnormal_petition", "mass_incident", "criminal_case"]
INCIDENT_TYPES: tuple[str, ...] = get_args(IncidentType)

#: Lifecycle event codes of the event log (column ``event``).
ARRIVE, MERGE, DISPATCH, START, ESCALATE, RESOLVE, FEEDBACK, REOPEN, INCIDENT, RETURN = range(10)
HANDOFF, BRUSH_OFF, CALLBACK = range(10, 13)
EVENT_CODES: dict[int, str] = {
    ARRIVE: "arrive",  # an appeal is filed (or a visit finds an issue)
    MERGE: "merge",  # the appeal joins an open work order of the same issue
    DISPATCH: "dispatch",  # a work order is sent to a unit
    START: "start",  # a staff member starts working on the order
    ESCALATE: "escalate",  # the unit passes the order up
    RESOLVE: "resolve",  # the order is closed with a resolution
    FEEDBACK: "feedback",  # the resident rates the resolution (value = 1 satisfied, 0 not)
    REOPEN: "reopen",  # a dissatisfied resident reopens the issue
    INCIDENT: "incident",  # an unresolved issue turned into a serious incident
    RETURN: "return",  # a misrouted order is sent back down
    HANDOFF: "handoff",  # the order is handed over between desks (value = hours)
    BRUSH_OFF: "brush_off",  # the unit closes the order as "not compliant" without settling it
    CALLBACK: "callback",  # a callback (回访) finds a false closure; the order is reopened
}

#: Who noticed an issue first (column ``found_by`` of the issues table); "none": nobody did.
FOUND_BY: tuple[str, ...] = (
    "none", "report", "visit", "building_leader", "party_member", "screening"
)  # fmt: skip
NOT_FOUND, BY_REPORT, BY_VISIT, BY_BUILDING_LEADER, BY_PARTY_MEMBER, BY_SCREENING = range(6)

#: Channels the engine adds to a scenario's own: a visit's find and a reopened issue.
VISIT_CHANNEL, REOPEN_CHANNEL = "visit", "reopen"

#: One random generator per purpose (see ``gridsim.model.seeds``); the order is part of the
#: seeding scheme: appending a stream keeps every existing stream's numbers.
STREAMS: tuple[str, ...] = (
    "county",
    "issues",
    "reports",
    "proactive",
    "handling",
    "routing",
    "feedback",
    "incidents",
    "residents",
    "noticing",
    "settling",
)
