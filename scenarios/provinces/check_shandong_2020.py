"""Check the Shandong 2020 files against the search excerpts they were copied from.

Run from anywhere:  python scenarios/provinces/check_shandong_2020.py
Prints what it finds; exits 1 if a shipped number disagrees with its excerpt
or a file is malformed.  Missing cities are reported, not treated as errors.
"""
import csv
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROVINCE_TOTAL = 101_527_453          # citypopulation.de, Shandong, Census 2020-11-01
EXPECTED = {"cities": 16, "units": 136, "district": 58, "city": 26, "county": 52}
ALL_CITIES = ["jinan", "qingdao", "zibo", "zaozhuang", "dongying", "yantai", "weifang",
              "jining", "taian", "weihai", "rizhao", "linyi", "dezhou", "liaocheng",
              "binzhou", "heze"]
SUFFIX_KIND = {"区": "district", "县": "county", "市": "city"}
errors = []


def fmt(n):
    return f"{int(n):,}"


def excerpt_blocks():
    """URL -> list of excerpt lines below it."""
    blocks, url = {}, None
    for line in (HERE / "shandong_2020_excerpts.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("URL "):
            url = line[4:].strip()
            blocks[url] = []
        elif url and line.strip() and not line.startswith("#"):
            blocks[url].append(line)
    return blocks


def last_column_is(line, zh, value):
    """The figures after the Chinese name end with `value` as a whole number:
    what precedes it must itself end with a complete ',ddd' group."""
    m = re.search(re.escape(zh) + r"([\d,]+)$", line)
    if not m:
        return False
    tail, v = m.group(1), fmt(value)
    return tail.endswith(v) and re.search(r",\d{3}$", tail[: -len(v)]) is not None


def read(name, header):
    with open(HERE / name, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if rows[0] != header:
        errors.append(f"{name}: header {rows[0]} != {header}")
    return [dict(zip(header, r)) for r in rows[1:]]


blocks = excerpt_blocks()
units = read("shandong_2020_counties.csv", ["key", "name", "name_zh", "city", "kind", "population"])
cities = read("shandong_2020_cities.csv", ["key", "name", "name_zh", "population", "urban_population", "source_url"])

keys = [u["key"] for u in units]
if len(set(keys)) != len(keys):
    errors.append("duplicate keys in counties file")
for u in units:
    slug = re.sub(r"[^a-z0-9]+", "-", u["name"].lower()).strip("-")
    if u["key"] != f"{u['city']}-{slug}" or not re.fullmatch(r"[a-z0-9-]+", u["key"]):
        errors.append(f"bad key {u['key']}")
    if SUFFIX_KIND.get(u["name_zh"][-1]) != u["kind"]:
        errors.append(f"{u['key']}: kind {u['kind']} does not fit {u['name_zh']}")

print("city        units  sum of units  city total    diff  urban      excerpt match")
grand = 0
for c in cities:
    lines = blocks.get(c["source_url"])
    if lines is None:
        errors.append(f"{c['key']}: source_url not among the excerpt URLs")
        continue
    mine = [u for u in units if u["city"] == c["key"]]
    ok = True
    for u in mine:
        hits = [l for l in lines if u["name_zh"] in l]
        if len(hits) != 1 or not last_column_is(hits[0], u["name_zh"], u["population"]):
            ok = False
            errors.append(f"{u['key']}: {u['population']} is not the 2020 figure on its excerpt line")
    city_line = [l for l in lines if c["name_zh"] in l]
    if len(city_line) != 1 or not last_column_is(city_line[0], c["name_zh"], c["population"]):
        ok = False
        errors.append(f"{c['key']}: total {c['population']} not found as the 2020 figure")
    if c["urban_population"] and f"Urban{fmt(c['urban_population'])}" not in lines:
        ok = False
        errors.append(f"{c['key']}: urban {c['urban_population']} not in excerpt")
    s, total = sum(int(u["population"]) for u in mine), int(c["population"])
    grand += total
    print(f"{c['key']:<11} {len(mine):>5}  {s:>12,}  {total:>10,}  {s - total:>+6,}  "
          f"{(fmt(c['urban_population']) if c['urban_population'] else '-'):>10} {'yes' if ok else 'NO'}")

kinds = {k: sum(u["kind"] == k for u in units) for k in ("district", "city", "county")}
print()
print(f"cities: {len(cities)} of {EXPECTED['cities']}; missing: "
      f"{', '.join(x for x in ALL_CITIES if x not in {c['key'] for c in cities}) or 'none'}")
print(f"county-level rows: {len(units)} of {EXPECTED['units']} "
      f"(districts {kinds['district']}/{EXPECTED['district']}, county-level cities "
      f"{kinds['city']}/{EXPECTED['city']}, counties {kinds['county']}/{EXPECTED['county']})")
print(f"sum of city totals: {grand:,} vs province {PROVINCE_TOTAL:,} (difference {grand - PROVINCE_TOTAL:+,})")
for e in errors:
    print("ERROR:", e)
print("errors:", len(errors))
sys.exit(1 if errors else 0)
