"""Write ``tests/cases/mutations.toml``: a corpus of mutants of ``scenarios/one_town.toml``.

The corpus is data: ``tests/test_properties.py`` runs every mutant through ``gridsim
describe`` and a one-day ``gridsim run``. This script only (re)generates it, from a fixed
seed, so the file is reviewable and stable; rerun it after ``one_town.toml`` changes::

    PYTHONPATH=. python tests/cases/make_mutations.py

Each mutant is one edit in the vocabulary of ``tests/cases/bad_scenarios.toml`` (``set``,
``delete``, ``rename``, ``add``, ``append``) or a ``[[raw]]`` change of the file's bytes.
Mutants are not expected to fail: each must load and run, or be refused with one line.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[2]
ONE_TOWN = ROOT / "scenarios" / "one_town.toml"
OUT = Path(__file__).parent / "mutations.toml"
SEED = 20251212

#: Hostile values: wrong types, out of range, non-finite, odd text (control characters,
#: spreadsheet formula starts, an RTL mark, a long string).
ODD_VALUES: list[Any] = [
    -1, 0, 1, -1.5, 0.0, 1e-300, 1e308, -1e308, 10**18, -(10**18), 2**63 - 1,
    float("nan"), float("inf"), float("-inf"), True, False, "", "x", "=1+1", "+1", "-1",
    "@sum", "line\nbreak", "tab\there", "nul\x00byte", "\u202eevil", "中文", "9" * 400,
    [], [1, 2], ["a"], {}, {"x": 1}, dt.date(2999, 1, 1), dt.datetime(1970, 1, 1, 0, 0),
]  # fmt: skip
#: Odd key names for renames and additions.
ODD_KEYS = ["", " ", "x y", "new\nline", "=cmd", "键", "\x7f", "ok_but_unknown"]
#: Most mutants that load: each costs a real (one-day) run in the test, about 0.4 s.
MAX_LOADING = 6
#: Mutants known to end in a traceback today, with the reason; the test marks them as strict
#: xfails, so the fix must remove them from here (and regenerate the corpus).
KNOWN_FAILURES: dict[str, str] = {}


def paths(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every dotted path of the parsed scenario (records named by key or name if unique)."""
    if isinstance(node, dict):
        items: list[tuple[str, Any]] = [(str(k), v) for k, v in node.items()]
    elif isinstance(node, list):
        names = [i.get("key") or i.get("name") if isinstance(i, dict) else None for i in node]
        items = [
            (n if n and names.count(n) == 1 and "." not in n else str(i), v)
            for i, (n, v) in enumerate(zip(names, node, strict=True))
        ]
    else:
        return
    for step, value in items:
        if "." in step or not step:
            continue  # a key the dotted vocabulary cannot address
        path = f"{prefix}.{step}" if prefix else step
        yield path, value
        yield from paths(value, path)


def _parent(data: dict[str, Any], path: str) -> Any:
    """The table or array that holds ``path`` (records of an array found by key or name)."""
    node: Any = data
    for step in path.split(".")[:-1]:
        if isinstance(node, dict):
            node = node[step]
        elif step.isdigit():
            node = node[int(step)]
        else:
            node = next(
                i for i in node if isinstance(i, dict) and step in (i.get("key"), i.get("name"))
            )
    return node


def scaled(value: Any, rng: random.Random) -> Any:
    """A plausible change of a number (often still valid: these mutants reach the engine)."""
    factor = rng.choice([0.5, 0.9, 1.1, 2.0, 3.0])
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return max(0, round(value * factor))
    return value * factor


def mutants(data: dict[str, Any], text: str, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Edited and raw mutants, in a fixed order from ``rng``."""
    all_paths = list(paths(data))
    in_tables = {p for p, _ in paths(data) if isinstance(_parent(data, p), dict)}
    leaves = [(p, v) for p, v in all_paths if not isinstance(v, (dict, list))]
    numbers = [(p, v) for p, v in leaves if isinstance(v, (int, float))]
    tables = [p for p, v in all_paths if isinstance(v, dict)]
    lists = [p for p, v in all_paths if isinstance(v, list)]
    for i in range(250):
        path, old = rng.choice(leaves)
        new = rng.choice(ODD_VALUES)
        if repr(new) != repr(old) and not new == old:  # True == 1 == 1.0
            yield {"name": f"set_{i}", "set": {path: new}}
    for i in range(40):
        path, old = rng.choice(numbers)
        new = scaled(old, rng)
        if repr(new) != repr(old):
            yield {"name": f"scale_{i}", "set": {path: new}}
    for i, path in enumerate(rng.sample([p for p, _ in all_paths], 45)):
        yield {"name": f"delete_{i}", "delete": [path]}
    for i, path in enumerate(rng.sample(tables, 15)):
        key = rng.choice(ODD_KEYS)
        yield {"name": f"add_{i}", "add": {f"{path}.{key}": rng.choice(ODD_VALUES)}}
    for i, path in enumerate(rng.sample([p for p, _ in leaves if p in in_tables], 15)):
        yield {"name": f"rename_{i}", "rename": {path: rng.choice(ODD_KEYS)}}
    for i, path in enumerate(rng.sample(lists, min(15, len(lists)))):
        yield {"name": f"append_{i}", "append": {path: rng.choice(ODD_VALUES)}}
    yield from raw_mutants(text, rng)


def raw_mutants(text: str, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Changes of the file's bytes: cut short, a line dropped or doubled, odd characters."""
    lines = [ln for ln in text.splitlines(keepends=True) if ln.strip()]
    for i in range(10):
        cut = rng.randrange(len(text))
        yield {"name": f"truncated_{i}", "text": text[:cut]}
    for i, line in enumerate(rng.sample(lines, 10)):
        if text.count(line) == 1:
            yield {"name": f"line_dropped_{i}", "replace": [line, ""]}
    for i, line in enumerate(rng.sample(lines, 10)):
        if text.count(line) == 1:
            yield {"name": f"line_doubled_{i}", "replace": [line, line + line]}
    for i, line in enumerate(rng.sample(lines, 10)):
        if text.count(line) == 1 and "=" in line:
            odd = rng.choice(["\x00", "\x1b[2J", "\r", "\u2028", "\ufeff", "\\"])
            yield {"name": f"control_char_{i}", "replace": [line, line.replace("=", "=" + odd, 1)]}
    yield {"name": "bom_prefix", "prefix": "\ufeff"}
    yield {"name": "utf16", "encoding": "utf-16"}
    yield {"name": "deep_arrays_3000", "text": "deep = ", "nest": ["[", "]", 3000]}
    yield {"name": "deep_tables_3000", "text": "deep = ", "nest": ["{a = ", "}", 3000]}
    yield {"name": "dotted_key_2000", "text": "a" + ".a" * 2000 + " = 1\n"}
    yield {"name": "empty_file", "text": ""}
    yield {"name": "only_comment", "text": "# nothing\n"}


def mutant_bytes(case: dict[str, Any], data: dict[str, Any], text: str) -> bytes:
    """The file a mutant writes, as ``tests/test_properties.py`` writes it."""
    from test_bad_input import edited, raw_bytes

    is_edit = any(op in case for op in ("set", "delete", "add", "rename", "append"))
    return tomli_w.dumps(edited(data, case)).encode() if is_edit else raw_bytes(text, case)


def loads(raw: bytes) -> bool:
    """Whether gridsim loads the mutant today (it then costs a run in the test)."""
    from gridsim.errors import UserError
    from gridsim.model.loader import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mutant.toml"
        path.write_bytes(raw)
        try:
            load_scenario(path)
        except (UserError, RecursionError):
            return False
    return True


def main() -> None:
    """Regenerate the corpus file."""
    sys.path.insert(0, str(ROOT / "tests"))  # the edit vocabulary of test_bad_input
    text = ONE_TOWN.read_text("utf-8")
    data = tomllib.loads(text)
    rng = random.Random(SEED)
    cases, n_loading = [], 0
    seen: set[bytes] = set()
    for case in mutants(data, text, rng):
        raw = mutant_bytes(case, data, text)
        if raw in seen:
            continue  # the same file as an earlier mutant (the same odd value drawn twice)
        seen.add(raw)
        if loads(raw) and case["name"] not in KNOWN_FAILURES:
            n_loading += 1
            if n_loading > MAX_LOADING:
                continue
        if case["name"] in KNOWN_FAILURES:
            case["xfail"] = KNOWN_FAILURES[case["name"]]
        cases.append(case)
    edited = [
        c for c in cases if any(op in c for op in ("set", "delete", "add", "rename", "append"))
    ]
    raw = [c for c in cases if c not in edited]
    header = (
        "# A corpus of mutants of scenarios/one_town.toml, generated by make_mutations.py\n"
        "# (edit that script, not this file). tests/test_properties.py runs each through\n"
        "# `gridsim describe` and a one-day `gridsim run`: it must load and run, or be refused\n"
        "# with exactly one line and exit status 2. The edits are those of bad_scenarios.toml.\n\n"
    )
    OUT.write_text(header + tomli_w.dumps({"edited": edited, "raw": raw}), "utf-8")
    print(f"{len(cases)} mutants ({min(n_loading, MAX_LOADING)} that load) written to {OUT}")


if __name__ == "__main__":
    main()
