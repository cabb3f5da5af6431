"""Check the Shandong 2020 files: shape, sums, and census numbers against their excerpts.

Run from anywhere:  python3 scenarios/provinces/check_shandong_2020.py
Prints what it finds; exits 1 on any error.  Checks: 136 rows, 58 districts / 26 county-level
cities / 52 counties, 16 cities, unique keys and codes, province sum exactly 101,527,453, every
`census` number found in its excerpt (shandong_2020_excerpts.txt), city sums equal to the
cities table (Jinan: the +525 its source has), and the files equal to what
make_shandong_2020.py writes.
"""
import csv
import importlib.util
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROVINCE_TOTAL = 101_527_453          # citypopulation.de, Shandong, Census 2020-11-01
EXPECTED = {"cities": 16, "units": 136, "district": 58, "city": 26, "county": 52}
KNOWN_DIFF = {"jinan": 525}           # Jinan's 12 units add up to 525 more than its total
SUFFIX_KIND = {"区": "district", "县": "county", "市": "city"}
errors = []


def fmt(n):
    """A whole number with thousands separators."""
    return f"{int(n):,}"


def slug(text):
    """A name as a key part: lower case ASCII words joined by hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("'", "")).strip("-")


def excerpt_blocks():
    """URL or FILE -> list of excerpt lines below it."""
    blocks, src = {}, None
    for line in (HERE / "shandong_2020_excerpts.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(("URL ", "FILE ")):
            src = line.split(" ", 1)[1].strip()
            blocks[src] = []
        elif src and line.strip() and not line.startswith("#"):
            blocks[src].append(line)
    return blocks


def last_column_is(line, zh, value):
    """Whether a citypopulation.de row ends with ``value``.

    The figures after the Chinese name end with `value` as a whole number, and what precedes
    it must itself end with a complete ',ddd' group.
    """
    m = re.search(re.escape(zh) + r"([\d,]+)$", line)
    if not m:
        return False
    tail, v = m.group(1), fmt(value)
    return tail.endswith(v) and re.search(r",\d{3}$", tail[: -len(v)]) is not None


def census_lines(lines, name, zh, value):
    """Excerpt lines that state `value` for this unit or city.

    In one of the three forms the excerpt file holds: a citypopulation.de row, the notes'
    "Name: n,nnn residents", or the bulletin's "...11月1日... 常住人口數為nnnnnnn人"
    (pinyin glosses in brackets removed).
    """
    hits = []
    for line in lines:
        plain = re.sub(r"\([a-z]+\)", "", line)
        if (zh in line and last_column_is(line, zh, value)) \
                or f"{name}: {fmt(value)} residents" in line \
                or (zh[:-1] in plain.replace("臨", "临") and "11月1日" in plain
                    and re.search(rf"常住人口數為{int(value)}人", plain)):
            hits.append(line)
    return hits


def read(name, header):
    """A CSV file's rows as dicts (a wrong header is recorded as an error)."""
    with open(HERE / name, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if rows[0] != header:
        errors.append(f"{name}: header {rows[0]} != {header}")
    return [dict(zip(header, r, strict=False)) for r in rows[1:]]


blocks = excerpt_blocks()
all_lines = [line for block in blocks.values() for line in block]
units = read("shandong_2020_counties.csv",
             ["key", "code", "name", "name_zh", "city", "kind", "population", "population_source"])
cities = read("shandong_2020_cities.csv",
              ["key", "name", "name_zh", "population", "urban_population", "population_source",
               "source_url"])

# shape
for what, col in (("keys", "key"), ("codes", "code")):
    vals = [u[col] for u in units]
    if len(set(vals)) != len(vals):
        errors.append(f"duplicate {what} in counties file")
city_keys = [c["key"] for c in cities]
if len(set(city_keys)) != len(city_keys):
    errors.append("duplicate keys in cities file")
for u in units:
    if not re.fullmatch(r"37\d{4}", u["code"]):
        errors.append(f"{u['key']}: bad code {u['code']}")
    if not re.fullmatch(r"[a-z0-9-]+", u["key"]) or not (
            u["key"] == f"{u['city']}-{slug(u['name'])}"
            or u["key"] == f"{u['city']}-{slug(u['name'])}-{u['kind']}"):
        errors.append(f"bad key {u['key']}")
    if SUFFIX_KIND.get(u["name_zh"][-1]) != u["kind"]:
        errors.append(f"{u['key']}: kind {u['kind']} does not fit {u['name_zh']}")
    if u["city"] not in city_keys:
        errors.append(f"{u['key']}: city {u['city']} not in cities file")
    if u["population_source"] not in ("census", "synthetic"):
        errors.append(f"{u['key']}: population_source {u['population_source']!r}")
    if not u["population"].isdigit() or int(u["population"]) <= 0:
        errors.append(f"{u['key']}: population {u['population']!r}")
kinds = {k: sum(u["kind"] == k for u in units) for k in ("district", "city", "county")}
for what, n in (("units", len(units)), ("cities", len(cities)), *kinds.items()):
    if n != EXPECTED[what]:
        errors.append(f"{what}: {n}, expected {EXPECTED[what]}")
province = sum(int(u["population"]) for u in units)
if province != PROVINCE_TOTAL:
    errors.append(f"province sum {province:,} != {PROVINCE_TOTAL:,}")

# census rows against the excerpts
census_units = [u for u in units if u["population_source"] == "census"]
for u in census_units:
    hits = census_lines(all_lines, u["name"], u["name_zh"], u["population"])
    if len(hits) != 1:
        errors.append(f"{u['key']}: census {u['population']} found on {len(hits)} excerpt lines")

print("city        units census  sum of units    city table    diff  source     urban      excerpt")
for c in cities:
    mine = [u for u in units if u["city"] == c["key"]]
    s, total = sum(int(u["population"]) for u in mine), int(c["population"])
    if s - total != KNOWN_DIFF.get(c["key"], 0):
        errors.append(f"{c['key']}: units add up to {s:,}, table says {total:,}")
    ok = "-"
    if c["population_source"] == "census":
        lines = blocks.get(c["source_url"], [])
        ok = "yes"
        if len(census_lines(lines, c["name"], c["name_zh"], total)) != 1:
            ok = "NO"
            errors.append(f"{c['key']}: total {total:,} not found in the excerpt of its source_url")
        if c["urban_population"] and f"Urban{fmt(c['urban_population'])}" not in lines:
            ok = "NO"
            errors.append(f"{c['key']}: urban {c['urban_population']} not in excerpt")
    elif c["population_source"] != "synthetic" or c["urban_population"] or c["source_url"]:
        errors.append(f"{c['key']}: a synthetic city has a source, an urban figure or a URL")
    print(f"{c['key']:<11} {len(mine):>5} {sum(u in census_units for u in mine):>6}  {s:>12,}  "
          f"{total:>12,}  {s - total:>+6,}  {c['population_source']:<10} "
          f"{(fmt(c['urban_population']) if c['urban_population'] else '-'):>10} {ok}")

# the files are what the generator writes
spec = importlib.util.spec_from_file_location("make_shandong_2020", HERE / "make_shandong_2020.py")
make = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make)
gen_units, gen_cities = make.build()


def as_text(rows, header):
    """Rows as lists of strings, in the header's order."""
    return [[str(r[h]) for h in header] for r in rows]


same_units = as_text(gen_units, make.UNIT_HEADER) == as_text(units, make.UNIT_HEADER)
same_cities = as_text(gen_cities, make.CITY_HEADER) == as_text(cities, make.CITY_HEADER)
if not (same_units and same_cities):
    errors.append("CSV files differ from what make_shandong_2020.py writes: rerun it")

print()
synth = [u for u in units if u["population_source"] == "synthetic"]
print(f"county-level rows: {len(units)} (districts {kinds['district']}, county-level cities "
      f"{kinds['city']}, counties {kinds['county']}) in {len(cities)} cities")
print(f"census rows: {len(census_units)} ({', '.join(u['key'] for u in census_units)})")
for kind in ("district", "city", "county"):
    ps = [int(u["population"]) for u in synth if u["kind"] == kind]
    print(f"synthetic {kind:<8} rows: {len(ps):>3}, mean {sum(ps) / len(ps):>11,.1f}")
print(f"province sum of units: {province:,} vs {PROVINCE_TOTAL:,} "
      f"(difference {province - PROVINCE_TOTAL:+,})")
grand = sum(int(c["population"]) for c in cities)
print(f"sum of the cities table: {grand:,} (difference {grand - PROVINCE_TOTAL:+,}: Jinan's +525)")
for e in errors:
    print("ERROR:", e)
print("errors:", len(errors))
sys.exit(1 if errors else 0)
