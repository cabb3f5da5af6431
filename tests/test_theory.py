"""Tests for gridsim.analysis.queueing: analytic M/M/c and Jackson-network results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import poisson

from gridsim.analysis.queueing import (
    erlang_c,
    erlang_c_wait_cdf,
    hierarchy_jackson,
    jackson_network,
    littles_law_error,
)


def erlang_c_from_poisson(lam: float, mu: float, c: int) -> float:
    """Independent Erlang C via Poisson pmf/cdf (the e^-a factor cancels)."""
    a = lam / mu
    tail = poisson.pmf(c, a) * c / (c - a)
    return tail / (poisson.cdf(c - 1, a) + tail)


# ---------------------------------------------------------------- erlang_c


def test_erlang_c_textbook_mm3():
    # lambda=2, mu=1, c=3: P0 = 1/9, C = 4/9, Wq = 4/9, Lq = 8/9 (standard worked example).
    r = erlang_c(2.0, 1.0, 3)
    assert r.rho == pytest.approx(2 / 3)
    assert r.p_wait == pytest.approx(4 / 9, rel=1e-12)
    assert r.mean_wait == pytest.approx(4 / 9, rel=1e-12)
    assert r.mean_queue == pytest.approx(8 / 9, rel=1e-12)
    assert r.mean_response == pytest.approx(4 / 9 + 1, rel=1e-12)
    assert r.mean_in_system == pytest.approx(2 * (4 / 9 + 1), rel=1e-12)


def test_erlang_c_mm2_half_load():
    # M/M/2 at rho = 0.5: C = rho^2 * 2 / (1 + rho) ... = 1/3, Wq = C / (2 mu - lam) = 1/3.
    r = erlang_c(1.0, 1.0, 2)
    assert r.p_wait == pytest.approx(1 / 3, rel=1e-12)
    assert r.mean_wait == pytest.approx(1 / 3, rel=1e-12)


@pytest.mark.parametrize(("lam", "mu"), [(0.5, 1.0), (0.9, 1.0), (3.0, 4.0), (0.01, 2.0)])
def test_erlang_c_single_server_is_mm1(lam, mu):
    r = erlang_c(lam, mu, 1)
    rho = lam / mu
    assert r.rho == pytest.approx(rho)
    assert r.p_wait == pytest.approx(rho, rel=1e-12)
    assert r.mean_wait == pytest.approx(rho / (mu - lam), rel=1e-12)
    assert r.mean_response == pytest.approx(1 / (mu - lam), rel=1e-12)
    assert r.mean_in_system == pytest.approx(rho / (1 - rho), rel=1e-12)


@pytest.mark.parametrize(
    ("lam", "mu", "c"), [(190.0, 1.0, 200), (180.0, 0.5, 400), (2.0, 1.0, 3), (7.5, 0.25, 35)]
)
def test_erlang_c_matches_poisson_form_including_large_c(lam, mu, c):
    r = erlang_c(lam, mu, c)
    assert math.isfinite(r.p_wait) and 0 < r.p_wait < 1
    expected = erlang_c_from_poisson(lam, mu, c)
    assert r.p_wait == pytest.approx(expected, rel=1e-9)
    assert r.mean_wait == pytest.approx(expected / (c * mu - lam), rel=1e-9)


def test_erlang_c_large_c_is_where_factorials_overflow():
    # Guard that the large-c case really exercises stability: the naive term overflows.
    with pytest.raises(OverflowError):
        float(190.0**200)
    r = erlang_c(190.0, 1.0, 200)
    # Little's law holds internally.
    assert r.mean_queue == pytest.approx(190.0 * r.mean_wait)


@pytest.mark.parametrize("c", [1, 2, 5, 20, 200])
def test_p_wait_increases_with_load(c):
    loads = np.linspace(0.01, 0.99, 60)
    p = [erlang_c(rho * c * 1.5, 1.5, c).p_wait for rho in loads]
    assert np.all(np.diff(p) > 0)
    assert p[0] < 0.05 and p[-1] > 0.5


def test_more_servers_at_same_utilisation_wait_less():
    # Economies of scale: pooling at fixed rho lowers the waiting probability.
    p = [erlang_c(0.8 * c, 1.0, c).p_wait for c in (1, 2, 5, 10, 50)]
    assert np.all(np.diff(p) < 0)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((3.0, 1.0, 3), "unstable"),
        ((3.5, 1.0, 3), "unstable"),
        ((0.0, 1.0, 3), "arrival_rate"),
        ((-1.0, 1.0, 3), "arrival_rate"),
        ((1.0, 0.0, 3), "service_rate"),
        ((1.0, -2.0, 3), "service_rate"),
        ((1.0, 1.0, 0), "servers"),
        ((1.0, 1.0, 2.5), "servers"),
        ((math.nan, 1.0, 2), "arrival_rate"),
    ],
)
def test_erlang_c_rejects_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        erlang_c(*args)


# ---------------------------------------------------------------- erlang_c_wait_cdf


def test_wait_cdf_formula_and_limits():
    lam, mu, c = 2.0, 1.0, 3
    C = erlang_c(lam, mu, c).p_wait
    assert erlang_c_wait_cdf(0.0, lam, mu, c) == pytest.approx(1 - C)
    assert erlang_c_wait_cdf(-1.0, lam, mu, c) == 0.0
    assert erlang_c_wait_cdf(0.7, lam, mu, c) == pytest.approx(1 - C * math.exp(-(3 - 2) * 0.7))
    assert erlang_c_wait_cdf(60.0, lam, mu, c) == pytest.approx(1.0)
    ts = np.linspace(0, 5, 50)
    assert np.all(np.diff([erlang_c_wait_cdf(t, lam, mu, c) for t in ts]) > 0)


@pytest.mark.parametrize(("lam", "mu", "c"), [(2.0, 1.0, 3), (0.9, 1.0, 1), (45.0, 0.5, 100)])
def test_wait_cdf_integrates_to_mean_wait(lam, mu, c):
    # E[Wq] = integral of the survival function, tying the CDF to erlang_c's mean.
    area, _ = integrate.quad(lambda t: 1 - erlang_c_wait_cdf(t, lam, mu, c), 0, np.inf)
    assert area == pytest.approx(erlang_c(lam, mu, c).mean_wait, rel=1e-7)


def test_wait_cdf_propagates_instability():
    with pytest.raises(ValueError, match="unstable"):
        erlang_c_wait_cdf(1.0, 5.0, 1.0, 2)


# ---------------------------------------------------------------- jackson_network


def test_tandem_of_two_mm1_is_sum_of_response_times():
    lam, mu1, mu2 = 1.0, 2.0, 3.0
    r = jackson_network([lam, 0.0], [[0.0, 1.0], [0.0, 0.0]], [mu1, mu2], [1, 1])
    np.testing.assert_allclose(r.arrival_rate, [lam, lam])
    np.testing.assert_allclose(r.rho, [0.5, 1 / 3])
    np.testing.assert_allclose(r.mean_response, [1 / (mu1 - lam), 1 / (mu2 - lam)])
    assert r.mean_sojourn == pytest.approx(1 / (mu1 - lam) + 1 / (mu2 - lam))
    assert r.throughput == pytest.approx(lam)


def test_single_node_feedback_traffic_equation():
    # After service, return with prob 0.4: lambda = gamma / (1 - 0.4), mean visits 1/0.6.
    gamma, p, mu = 1.2, 0.4, 5.0
    r = jackson_network([gamma], [[p]], [mu], 2)
    lam = gamma / (1 - p)
    assert r.arrival_rate[0] == pytest.approx(lam)
    direct = erlang_c(lam, mu, 2)
    assert r.mean_response[0] == pytest.approx(direct.mean_response)
    assert r.mean_sojourn == pytest.approx(direct.mean_response / (1 - p))


def test_two_node_feedback_loop_and_littles_law_at_network_level():
    # 0 -> 1 always; from 1, 30% go back to 0, 20% to 2, rest leave.
    gamma = np.array([1.0, 0.5, 0.0])
    P = np.array([[0.0, 1.0, 0.0], [0.3, 0.0, 0.2], [0.0, 0.0, 0.0]])
    r = jackson_network(gamma, P, [4.0, 3.0, 1.0], [1, 1, 2])
    lam0 = (1.0 + 0.3 * 0.5) / 0.7
    lam1 = lam0 + 0.5
    np.testing.assert_allclose(r.arrival_rate, [lam0, lam1, 0.2 * lam1])
    np.testing.assert_allclose(r.arrival_rate, gamma + P.T @ r.arrival_rate)
    for i, (mu, c) in enumerate([(4.0, 1), (3.0, 1), (1.0, 2)]):
        assert r.mean_wait[i] == pytest.approx(erlang_c(r.arrival_rate[i], mu, c).mean_wait)
    np.testing.assert_allclose(r.mean_in_system, r.arrival_rate * r.mean_response)
    # Sojourn = sum over nodes of expected visits per order * time per visit.
    visits = r.arrival_rate / gamma.sum()
    assert r.mean_sojourn == pytest.approx(float(visits @ r.mean_response))
    assert r.throughput == pytest.approx(1.5)


def test_unreached_node_is_idle():
    r = jackson_network([1.0, 0.0], [[0.0, 0.0], [0.0, 0.0]], [2.0, 4.0], 1)
    assert r.arrival_rate[1] == 0.0
    assert r.rho[1] == 0.0 and r.mean_wait[1] == 0.0 and r.mean_in_system[1] == 0.0


def test_jackson_result_arrays_are_read_only():
    r = jackson_network([1.0], [[0.0]], [2.0], 1)
    with pytest.raises(ValueError):
        r.rho[0] = 0.0


def test_jackson_unstable_node_is_named():
    # Node 1 receives 0.8 + 0.9 * 1.0 = 1.7 orders/hour, above its capacity of 1.5.
    with pytest.raises(ValueError, match="node 1"):
        jackson_network([1.0, 0.8], [[0.0, 0.9], [0.0, 0.0]], [2.0, 1.5], [1, 1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"routing": [[0.0, 1.0]]}, "routing"),
        ({"service_rates": [1.0, 2.0, 3.0]}, "service_rates"),
        ({"servers": [1, 1, 1]}, "servers"),
        ({"servers": [1, 0]}, "servers at node 1"),
        ({"routing": [[0.0, 0.7], [0.6, 0.6]]}, "node 1 sums"),
        ({"routing": [[0.0, -0.1], [0.0, 0.0]]}, r"\[0, 1\]"),
        ({"external_arrivals": [0.0, 0.0]}, "all be zero"),
        ({"external_arrivals": [-1.0, 1.0]}, "external_arrivals"),
        ({"service_rates": [1.0, 0.0]}, "node 1"),
        ({"routing": [[0.0, 1.0], [1.0, 0.0]]}, "never leave"),
    ],
)
def test_jackson_rejects_bad_inputs(kwargs, match):
    args = {
        "external_arrivals": [0.5, 0.0],
        "routing": [[0.0, 0.5], [0.0, 0.0]],
        "service_rates": [2.0, 2.0],
        "servers": [1, 1],
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        jackson_network(**args)


# ---------------------------------------------------------------- hierarchy_jackson


def test_hierarchy_without_units_equals_explicit_tandem():
    lam, probs, mus, cs = 6.0, [0.3, 0.5], [2.0, 1.0, 0.5], [4, 3, 2]
    h = hierarchy_jackson(lam, probs, mus, cs)
    P = np.zeros((3, 3))
    P[0, 1], P[1, 2] = probs
    j = jackson_network([lam, 0.0, 0.0], P, mus, cs)
    for name in ("arrival_rate", "rho", "p_wait", "mean_wait", "mean_response", "mean_in_system"):
        np.testing.assert_allclose(getattr(h, name), getattr(j, name), rtol=1e-12, err_msg=name)
    assert h.mean_sojourn == pytest.approx(j.mean_sojourn)
    assert h.throughput == pytest.approx(j.throughput)
    np.testing.assert_allclose(h.reach_probability, [1.0, 0.3, 0.15])


def test_hierarchy_with_units_equals_explicit_network_of_units():
    # 4 micro-grids -> 2 grids -> 1 community; each unit forwards evenly to the level above.
    lam, probs, mus, cs, units = 8.0, [0.25, 0.4], [1.5, 1.0, 1.0], [2, 2, 1], [4, 2, 1]
    h = hierarchy_jackson(lam, probs, mus, cs, units_per_level=units)

    level_of = np.repeat(np.arange(3), units)
    n = level_of.size
    gamma = np.where(level_of == 0, lam / units[0], 0.0)
    P = np.zeros((n, n))
    for i in range(n):
        lvl = level_of[i]
        if lvl < 2:
            P[i, level_of == lvl + 1] = probs[lvl] / units[lvl + 1]
    j = jackson_network(gamma, P, [mus[k] for k in level_of], [cs[k] for k in level_of])

    for name in ("arrival_rate", "rho", "p_wait", "mean_wait", "mean_response", "mean_in_system"):
        np.testing.assert_allclose(
            getattr(h, name)[level_of], getattr(j, name), rtol=1e-12, err_msg=name
        )
    assert h.mean_sojourn == pytest.approx(j.mean_sojourn)
    np.testing.assert_allclose(h.level_arrival_rate, [8.0, 2.0, 0.8])
    np.testing.assert_allclose(h.arrival_rate, [2.0, 1.0, 0.8])
    np.testing.assert_array_equal(h.units, units)
    # Mean sojourn = sum_i P(reach level i) * time at a level-i unit.
    assert h.mean_sojourn == pytest.approx(float(h.reach_probability @ h.mean_response))


def test_hierarchy_county_scale_is_finite():
    # A county-sized ladder: 2000 micro-grids, 500 grids, 40 communities, 1 street office.
    h = hierarchy_jackson(
        arrival_rate=400.0,
        escalation_probs=[0.2, 0.1, 0.05],
        service_rates=[0.5, 0.4, 0.25, 0.1],
        servers=[1, 1, 3, 30],
        units_per_level=[2000, 500, 40, 1],
    )
    assert np.all(np.isfinite(h.mean_response)) and np.all(h.rho < 1)
    assert h.arrival_rate[0] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"escalation_probs": [0.5]}, "escalation_probs needs 2"),
        ({"escalation_probs": [0.5, 1.2]}, r"\[0, 1\]"),
        ({"units_per_level": [1, 1]}, "units_per_level"),
        ({"units_per_level": [1, 0, 1]}, r"units_per_level\[1\]"),
        ({"servers": [1, 1]}, "servers"),
        ({"arrival_rate": 0.0}, "arrival_rate"),
        ({"service_rates": [1.0, -1.0, 1.0]}, "service_rates"),
        ({"arrival_rate": 30.0}, "level 0"),
        ({"servers": [10, 1, 1], "arrival_rate": 9.0}, "level 1"),
    ],
)
def test_hierarchy_rejects_bad_inputs(kwargs, match):
    args = {
        "arrival_rate": 1.0,
        "escalation_probs": [0.5, 0.5],
        "service_rates": [2.0, 2.0, 2.0],
        "servers": [1, 1, 1],
        "units_per_level": None,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        hierarchy_jackson(**args)


# ---------------------------------------------------------------- littles_law_error


def test_littles_law_error():
    assert littles_law_error(4.0, 2.0, 2.0) == 0.0
    assert littles_law_error(5.0, 2.0, 2.0) == pytest.approx(0.2)
    assert littles_law_error(0.0, 0.0, 3.0) == 0.0
    assert littles_law_error(0.0, 1.0, 1.0) > 1e300
    r = erlang_c(2.0, 1.0, 3)
    assert littles_law_error(r.mean_in_system, 2.0, r.mean_response) < 1e-12
