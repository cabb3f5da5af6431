"""Analytic queueing results used to validate the simulator.

All rates are per hour and all times are in hours, matching the rest of ``gridsim``.
Only steady-state results for Markovian queues are provided: M/M/c nodes (Erlang C),
open Jackson networks of such nodes, and a convenience wrapper for the tandem
"escalation ladder" used by the governance hierarchy (micro-grid -> grid -> community ...).

Result records holding NumPy arrays are frozen and their arrays are read-only; they use
identity equality because element-wise ``==`` on arrays has no single truth value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "HierarchyResult",
    "JacksonResult",
    "MMcResult",
    "erlang_c",
    "erlang_c_wait_cdf",
    "hierarchy_jackson",
    "jackson_network",
    "littles_law_error",
]

# Row sums of a routing matrix come from user arithmetic (e.g. 0.1 + 0.2 + 0.7), so allow
# floating-point slack before declaring a row super-stochastic.
_PROB_TOL = 1e-9


@dataclass(frozen=True)
class MMcResult:
    """Steady-state metrics of an M/M/c queue (rates per hour, times in hours).

    Attributes:
        rho: Per-server utilisation ``lambda / (c * mu)``.
        p_wait: Erlang C probability that an arrival has to wait.
        mean_wait: Mean time in queue before service starts, ``Wq`` (hours).
        mean_queue: Mean number waiting in queue, ``Lq``.
        mean_response: Mean time in system, ``W = Wq + 1/mu`` (hours).
        mean_in_system: Mean number in system, ``L``.
    """

    rho: float
    p_wait: float
    mean_wait: float
    mean_queue: float
    mean_response: float
    mean_in_system: float


@dataclass(frozen=True, eq=False)
class JacksonResult:
    """Steady-state metrics of an open Jackson network (rates per hour, times in hours).

    Per-node arrays are indexed like the inputs of :func:`jackson_network`.

    Attributes:
        arrival_rate: Total arrival rate ``lambda_i`` into each node (external plus routed).
        rho: Per-server utilisation of each node.
        p_wait: Erlang C probability of waiting at each node.
        mean_wait: Mean queueing delay per visit at each node (hours).
        mean_queue: Mean number waiting at each node.
        mean_response: Mean time per visit at each node, wait plus service (hours).
        mean_in_system: Mean number present at each node.
        throughput: Network throughput, equal to the total external arrival rate.
        mean_sojourn: Mean time an order spends in the network, by Little's law (hours).
    """

    arrival_rate: NDArray[np.float64]
    rho: NDArray[np.float64]
    p_wait: NDArray[np.float64]
    mean_wait: NDArray[np.float64]
    mean_queue: NDArray[np.float64]
    mean_response: NDArray[np.float64]
    mean_in_system: NDArray[np.float64]
    throughput: float
    mean_sojourn: float


@dataclass(frozen=True, eq=False)
class HierarchyResult:
    """Steady-state metrics of an escalation ladder (rates per hour, times in hours).

    Per-level arrays describe one representative unit of the level; all units at a level
    are identical, so their metrics coincide.

    Attributes:
        units: Number of identical units at each level.
        reach_probability: Probability that an order ever reaches each level.
        level_arrival_rate: Total arrival rate into each level (all units together).
        arrival_rate: Arrival rate into one unit of each level.
        rho: Per-server utilisation of one unit.
        p_wait: Erlang C probability of waiting at one unit.
        mean_wait: Mean queueing delay at a unit of each level (hours).
        mean_queue: Mean number waiting at one unit.
        mean_response: Mean time spent at a unit of each level, wait plus service (hours).
        mean_in_system: Mean number present at one unit.
        throughput: Orders per hour entering (and, in steady state, leaving) the ladder.
        mean_sojourn: Mean time from an order's arrival to its final departure (hours).
    """

    units: NDArray[np.int64]
    reach_probability: NDArray[np.float64]
    level_arrival_rate: NDArray[np.float64]
    arrival_rate: NDArray[np.float64]
    rho: NDArray[np.float64]
    p_wait: NDArray[np.float64]
    mean_wait: NDArray[np.float64]
    mean_queue: NDArray[np.float64]
    mean_response: NDArray[np.float64]
    mean_in_system: NDArray[np.float64]
    throughput: float
    mean_sojourn: float


def _positive_int(value: object, what: str = "servers") -> int:
    try:
        as_int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a positive integer, got {value!r}") from None
    if isinstance(value, bool) or as_int != value or as_int < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return as_int


def _erlang_b(offered_load: float, servers: int) -> float:
    # The recursion B(k) = a B(k-1) / (k + a B(k-1)) keeps every term in (0, 1], whereas the
    # textbook a^c / c! form overflows a float for c around 170 and loses precision well before.
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> MMcResult:
    """Steady-state metrics of an M/M/c queue via the Erlang C formula.

    Erlang C is obtained from the Erlang B recursion, so it stays finite and accurate for
    hundreds of servers.

    Args:
        arrival_rate: Poisson arrival rate ``lambda`` (orders per hour), > 0.
        service_rate: Exponential service rate ``mu`` of one server (orders per hour), > 0.
        servers: Number of parallel servers ``c``, a positive integer.

    Returns:
        The steady-state metrics; times are in hours.

    Raises:
        ValueError: If an input is non-positive or non-finite, ``servers`` is not an
            integer, or the queue is unstable (``rho = lambda / (c * mu) >= 1``).

    Example:
        >>> r = erlang_c(arrival_rate=2.0, service_rate=1.0, servers=3)
        >>> round(r.p_wait, 4), round(r.mean_wait, 4), round(r.rho, 4)
        (0.4444, 0.4444, 0.6667)
    """
    c = _positive_int(servers)
    lam = float(arrival_rate)
    mu = float(service_rate)
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"arrival_rate must be positive and finite, got {arrival_rate!r}")
    if not (math.isfinite(mu) and mu > 0):
        raise ValueError(f"service_rate must be positive and finite, got {service_rate!r}")
    offered = lam / mu
    rho = offered / c
    if rho >= 1.0:
        raise ValueError(
            f"unstable M/M/c queue: rho = lambda/(c*mu) = {lam:g}/({c}*{mu:g}) = {rho:.6g} >= 1"
        )
    blocking = _erlang_b(offered, c)
    p_wait = blocking / (1.0 - rho * (1.0 - blocking))
    mean_wait = p_wait / (c * mu - lam)
    mean_response = mean_wait + 1.0 / mu
    return MMcResult(
        rho=rho,
        p_wait=p_wait,
        mean_wait=mean_wait,
        mean_queue=lam * mean_wait,
        mean_response=mean_response,
        mean_in_system=lam * mean_response,
    )


def erlang_c_wait_cdf(t: float, arrival_rate: float, service_rate: float, servers: int) -> float:
    """Probability that the queueing delay of an M/M/c queue is at most ``t`` hours.

    Uses ``P(Wq <= t) = 1 - C * exp(-(c*mu - lambda) * t)`` for ``t >= 0``; the delay is
    never negative, so the CDF is 0 for ``t < 0``.

    Args:
        t: Delay threshold in hours.
        arrival_rate: Poisson arrival rate ``lambda`` (orders per hour).
        service_rate: Service rate ``mu`` of one server (orders per hour).
        servers: Number of servers ``c``.

    Returns:
        ``P(Wq <= t)``.

    Raises:
        ValueError: Under the same conditions as :func:`erlang_c`, or if ``t`` is NaN.

    Example:
        >>> round(erlang_c_wait_cdf(0.0, 2.0, 1.0, 3), 4)  # 1 - P(wait)
        0.5556
        >>> round(erlang_c_wait_cdf(1.0, 2.0, 1.0, 3), 4)
        0.8365
    """
    t = float(t)
    if math.isnan(t):
        raise ValueError("t must not be NaN")
    result = erlang_c(arrival_rate, service_rate, servers)
    if t < 0:
        return 0.0
    decay = servers * float(service_rate) - float(arrival_rate)
    return 1.0 - result.p_wait * math.exp(-decay * t)


def _node_metrics(
    arrival: NDArray[np.float64],
    service: NDArray[np.float64],
    servers: Sequence[int],
    label: str,
) -> dict[str, NDArray[np.float64]]:
    names = ("rho", "p_wait", "mean_wait", "mean_queue", "mean_response", "mean_in_system")
    out = {name: np.zeros(len(arrival)) for name in names}
    for i, (lam, mu, c) in enumerate(zip(arrival, service, servers, strict=True)):
        if lam == 0.0:
            # A node no order ever reaches is idle; erlang_c rejects lambda = 0 on purpose.
            out["mean_response"][i] = 1.0 / mu
            continue
        try:
            res = erlang_c(lam, mu, c)
        except ValueError as exc:
            raise ValueError(f"{label} {i}: {exc}") from None
        for name in names:
            out[name][i] = getattr(res, name)
    return out


def _readonly(a: ArrayLike, dtype: type = np.float64) -> NDArray:
    arr: NDArray = np.array(a, dtype=dtype)
    arr.setflags(write=False)
    return arr


def _as_vector(x: ArrayLike, n: int, name: str) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {arr.shape}")
    return arr


def _servers_vector(servers: int | Sequence[int], n: int, label: str) -> list[int]:
    raw = np.asarray(servers, dtype=object)
    if raw.ndim == 0:
        return [_positive_int(servers)] * n
    if raw.shape != (n,):
        raise ValueError(f"servers must be an integer or have shape ({n},), got {raw.shape}")
    return [_positive_int(s, f"servers at {label} {i}") for i, s in enumerate(raw)]


def jackson_network(
    external_arrivals: ArrayLike,
    routing: ArrayLike,
    service_rates: ArrayLike,
    servers: int | Sequence[int],
) -> JacksonResult:
    """Steady-state metrics of an open Jackson network of M/M/c nodes.

    Solves the traffic equations ``lambda = gamma + P^T lambda`` and then treats every
    node as an independent M/M/c queue (Jackson's theorem).

    Args:
        external_arrivals: Vector ``gamma`` of external Poisson arrival rates per node
            (orders per hour), each >= 0 and not all zero.
        routing: Square matrix ``P``; ``P[i, j]`` is the probability that an order goes
            to node ``j`` after service at node ``i``. Rows sum to at most 1; the remainder
            is the probability of leaving the network.
        service_rates: Service rate ``mu_i`` of one server at each node (orders per hour);
            a scalar applies to every node.
        servers: Number of servers ``c_i`` at each node; a scalar applies to every node.

    Returns:
        Per-node metrics plus network throughput and mean sojourn time (hours).

    Raises:
        ValueError: On mismatched shapes, invalid probabilities or rates, a routing matrix
            from which orders can never leave, or an unstable node (the message names
            the node index).

    Example:
        >>> r = jackson_network([1.0, 0.0], [[0.0, 1.0], [0.0, 0.0]], [2.0, 3.0], 1)
        >>> [round(float(w), 3) for w in r.mean_response], round(r.mean_sojourn, 3)
        ([1.0, 0.5], 1.5)
    """
    gamma = np.asarray(external_arrivals, dtype=float)
    if gamma.ndim != 1 or gamma.size == 0:
        raise ValueError(f"external_arrivals must be a non-empty vector, got shape {gamma.shape}")
    n = gamma.size
    p = np.asarray(routing, dtype=float)
    if p.shape != (n, n):
        raise ValueError(f"routing must have shape ({n}, {n}) to match {n} nodes, got {p.shape}")
    mu = _as_vector(service_rates, n, "service_rates")
    c = _servers_vector(servers, n, "node")

    if not np.all(np.isfinite(gamma)) or np.any(gamma < 0):
        raise ValueError("external_arrivals must be finite and >= 0")
    if gamma.sum() <= 0:
        raise ValueError("external_arrivals must not all be zero")
    if not np.all(np.isfinite(mu)) or np.any(mu <= 0):
        bad = int(np.flatnonzero(~(np.isfinite(mu) & (mu > 0)))[0])
        raise ValueError(f"service_rates must be positive and finite; node {bad} has {mu[bad]}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError("routing probabilities must lie in [0, 1]")
    row_sums = p.sum(axis=1)
    if np.any(row_sums > 1 + _PROB_TOL):
        bad = int(np.argmax(row_sums))
        raise ValueError(f"routing row of node {bad} sums to {row_sums[bad]:.6g} > 1")

    try:
        lam = np.linalg.solve(np.eye(n) - p.T, gamma)
    except np.linalg.LinAlgError:
        raise ValueError(
            "traffic equations are singular: some set of nodes routes every order back "
            "among itself, so orders can never leave the network"
        ) from None
    # With substochastic P the exact solution is non-negative; tiny negatives are round-off.
    if np.any(lam < -1e-9 * max(1.0, float(np.abs(lam).max()))):
        raise ValueError("traffic equations gave negative arrival rates; check routing")
    lam = np.clip(lam, 0.0, None)

    metrics = _node_metrics(lam, mu, c, "node")
    throughput = float(gamma.sum())
    return JacksonResult(
        arrival_rate=_readonly(lam),
        **{k: _readonly(v) for k, v in metrics.items()},
        throughput=throughput,
        mean_sojourn=float(metrics["mean_in_system"].sum() / throughput),
    )


def hierarchy_jackson(
    arrival_rate: float,
    escalation_probs: Sequence[float],
    service_rates: Sequence[float],
    servers: int | Sequence[int],
    units_per_level: Sequence[int] | None = None,
) -> HierarchyResult:
    """Steady-state metrics of a tandem escalation ladder of M/M/c units.

    Orders arrive at level 0. After service at level ``i`` an order escalates to level
    ``i + 1`` with probability ``escalation_probs[i]`` and otherwise leaves. Level ``i``
    may consist of ``units_per_level[i]`` identical units that split the level's flow
    evenly (e.g. a county with 2000 micro-grids below 500 grids); since an even random
    split of a Poisson stream is Poisson, each unit is an M/M/c queue with arrival rate
    ``lambda_i / n_i``. This is the open Jackson network with one node per unit.

    Args:
        arrival_rate: Orders per hour arriving at level 0 in total, > 0.
        escalation_probs: Escalation probability after each level except the top one,
            so its length is ``len(service_rates) - 1``.
        service_rates: Service rate of one server at each level (orders per hour).
        servers: Servers per unit at each level; a scalar applies to every level.
        units_per_level: Number of identical units at each level; defaults to one each.

    Returns:
        Per-unit metrics for each level plus ladder throughput and mean sojourn (hours).

    Raises:
        ValueError: On mismatched lengths, invalid probabilities, rates or unit counts, or
            an unstable level (the message names the level index).

    Example:
        >>> r = hierarchy_jackson(10.0, [0.2], [1.0, 0.5], [12, 6], units_per_level=[2, 1])
        >>> [float(x) for x in r.arrival_rate], [round(float(x), 3) for x in r.rho]
        ([5.0, 2.0], [0.417, 0.667])
    """
    lam0 = float(arrival_rate)
    if not (math.isfinite(lam0) and lam0 > 0):
        raise ValueError(f"arrival_rate must be positive and finite, got {arrival_rate!r}")
    mu = np.asarray(service_rates, dtype=float)
    if mu.ndim != 1 or mu.size == 0:
        raise ValueError("service_rates must be a non-empty sequence, one rate per level")
    levels = mu.size
    probs = np.asarray(escalation_probs, dtype=float).reshape(-1)
    if probs.size != levels - 1:
        raise ValueError(
            f"escalation_probs needs {levels - 1} entries (one per level below the top) "
            f"for {levels} levels, got {probs.size}"
        )
    if not np.all(np.isfinite(probs)) or np.any((probs < 0) | (probs > 1)):
        raise ValueError("escalation_probs must lie in [0, 1]")
    if not np.all(np.isfinite(mu)) or np.any(mu <= 0):
        raise ValueError("service_rates must be positive and finite")
    c = _servers_vector(servers, levels, "level")
    if units_per_level is None:
        units = np.ones(levels, dtype=np.int64)
    else:
        units_raw = np.asarray(units_per_level)
        if units_raw.shape != (levels,):
            raise ValueError(
                f"units_per_level must have {levels} entries, got shape {units_raw.shape}"
            )
        units = np.array(
            [_positive_int(u, f"units_per_level[{i}]") for i, u in enumerate(units_raw)],
            dtype=np.int64,
        )

    reach = np.concatenate(([1.0], np.cumprod(probs)))
    level_lam = lam0 * reach
    unit_lam = level_lam / units
    metrics = _node_metrics(unit_lam, mu, c, "level")
    total_in_system = float(np.sum(units * metrics["mean_in_system"]))
    return HierarchyResult(
        units=_readonly(units, np.int64),
        reach_probability=_readonly(reach),
        level_arrival_rate=_readonly(level_lam),
        arrival_rate=_readonly(unit_lam),
        **{k: _readonly(v) for k, v in metrics.items()},
        throughput=lam0,
        mean_sojourn=total_in_system / lam0,
    )


def littles_law_error(mean_number: float, arrival_rate: float, mean_time: float) -> float:
    """Relative discrepancy from Little's law ``L = lambda * W``.

    Computes ``|L - lambda * W| / max(|L|, tiny)`` where ``tiny`` is the smallest positive
    normal float, so that ``L = 0`` does not divide by zero. When ``L`` is 0 but
    ``lambda * W`` is not, the result is astronomically large (possibly ``inf``), which
    correctly flags a gross violation.

    Args:
        mean_number: Time-average number in the system ``L``.
        arrival_rate: Arrival (or throughput) rate ``lambda`` in orders per hour.
        mean_time: Mean time in the system ``W`` in hours.

    Returns:
        The relative error; 0 means the three estimates are exactly consistent.

    Example:
        >>> littles_law_error(mean_number=4.0, arrival_rate=2.0, mean_time=2.0)
        0.0
        >>> littles_law_error(5.0, 2.0, 2.0)  # |5 - 4| / 5
        0.2
    """
    lhs = float(mean_number)
    rhs = float(arrival_rate) * float(mean_time)
    diff = abs(lhs - rhs)
    if diff == 0.0:
        return 0.0
    # Python float division saturates to inf rather than raising, which is what we want.
    return diff / max(abs(lhs), float(np.finfo(float).tiny))
