"""Write the Shandong 2020 tables: a SYNTHETIC province matched to the census total and count.

Run from anywhere:  python3 scenarios/provinces/make_shandong_2020.py
Standard library only; deterministic (same files every run).

What is real and what is not
- Real: the 136 county-level units of Shandong as of 2020, with their 6-digit codes, names,
  prefecture-level cities and kinds (NBS 2020 statistical division codes, as copied in
  modood/Administrative-divisions-of-China, dist/areas.csv at commit 78b6f36; the 17
  development zones with codes xxxx7x are not administrative units and are left out).
- Real: the province total 101,527,453 (2020 census), Jinan's 12 unit populations and its city
  total (citypopulation.de), Pingyi 892,276 (project data notes) and Linyi's city total
  11,018,365 (Linyi census bulletin, as reprinted).  See SOURCES.md and the excerpts file.
- SYNTHETIC: every other unit's population.  The rule, in two steps:
  1. Linyi: its total minus its census row (Pingyi) is split over Linyi's other 11 units.
  2. The rest of the province (101,527,453 minus Jinan's 12 census rows minus Linyi's total)
     is split over the remaining 112 units.
  Each split is proportional to a weight per kind, ASSUMPTION district 1.2, county-level city
  1.1, county 1.0 (meant to be near the ratios of Shandong's mean unit sizes by kind; not fitted),
  and rounded by largest remainder (ties broken by ascending code), so every split adds up exactly.
"""
import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROVINCE_TOTAL = 101_527_453            # Shandong, census 2020-11-01 (citypopulation.de)
WEIGHT = {"district": 1.2, "city": 1.1, "county": 1.0}   # ASSUMPTION, see docstring
KIND = {"区": "district", "市": "city", "县": "county"}

# key, name, name_zh, census total (None: synthetic), urban, population_source, source_url
CITY_ROWS = [
    ("jinan", "Jinan", "济南市", 9_202_432, 6_760_007, "census",
     "https://www.citypopulation.de/en/china/shandong/admin/3701__j%EF%BF%BD%EF%BF%BDn%EF%BF%BD%EF%BF%BDn_sh%EF%BF%BD%EF%BF%BD/"),
    ("qingdao", "Qingdao", "青岛市"), ("zibo", "Zibo", "淄博市"),
    ("zaozhuang", "Zaozhuang", "枣庄市"), ("dongying", "Dongying", "东营市"),
    ("yantai", "Yantai", "烟台市"), ("weifang", "Weifang", "潍坊市"),
    ("jining", "Jining", "济宁市"), ("taian", "Tai'an", "泰安市"),
    ("weihai", "Weihai", "威海市"), ("rizhao", "Rizhao", "日照市"),
    ("linyi", "Linyi", "临沂市", 11_018_365, None, "census",
     "http://m.www.hbzqbyyxgs.com/news/584015.html"),
    ("dezhou", "Dezhou", "德州市"), ("liaocheng", "Liaocheng", "聊城市"),
    ("binzhou", "Binzhou", "滨州市"), ("heze", "Heze", "菏泽市"),
]
CITY_OF_PREFIX = {"3701": "jinan", "3702": "qingdao", "3703": "zibo", "3704": "zaozhuang",
                  "3705": "dongying", "3706": "yantai", "3707": "weifang", "3708": "jining",
                  "3709": "taian", "3710": "weihai", "3711": "rizhao", "3713": "linyi",
                  "3714": "dezhou", "3715": "liaocheng", "3716": "binzhou", "3717": "heze"}

# Census populations of single units (code -> residents).
CENSUS_UNITS = {
    "370102": 920_000, "370103": 903_714, "370104": 675_048, "370105": 770_202,
    "370112": 1_640_000, "370113": 595_549, "370114": 1_075_784, "370115": 515_679,
    "370116": 969_632, "370117": 286_966, "370124": 323_072, "370126": 527_311,  # Jinan
    "371326": 892_276,                                                           # Pingyi
}

# code, name_zh, name (pinyin without tones and without the 区/县/市 suffix)
UNITS = """
370102 历下区 Lixia
370103 市中区 Shizhong
370104 槐荫区 Huaiyin
370105 天桥区 Tianqiao
370112 历城区 Licheng
370113 长清区 Changqing
370114 章丘区 Zhangqiu
370115 济阳区 Jiyang
370116 莱芜区 Laiwu
370117 钢城区 Gangcheng
370124 平阴县 Pingyin
370126 商河县 Shanghe
370202 市南区 Shinan
370203 市北区 Shibei
370211 黄岛区 Huangdao
370212 崂山区 Laoshan
370213 李沧区 Licang
370214 城阳区 Chengyang
370215 即墨区 Jimo
370281 胶州市 Jiaozhou
370283 平度市 Pingdu
370285 莱西市 Laixi
370302 淄川区 Zichuan
370303 张店区 Zhangdian
370304 博山区 Boshan
370305 临淄区 Linzi
370306 周村区 Zhoucun
370321 桓台县 Huantai
370322 高青县 Gaoqing
370323 沂源县 Yiyuan
370402 市中区 Shizhong
370403 薛城区 Xuecheng
370404 峄城区 Yicheng
370405 台儿庄区 Taierzhuang
370406 山亭区 Shanting
370481 滕州市 Tengzhou
370502 东营区 Dongying
370503 河口区 Hekou
370505 垦利区 Kenli
370522 利津县 Lijin
370523 广饶县 Guangrao
370602 芝罘区 Zhifu
370611 福山区 Fushan
370612 牟平区 Muping
370613 莱山区 Laishan
370614 蓬莱区 Penglai
370681 龙口市 Longkou
370682 莱阳市 Laiyang
370683 莱州市 Laizhou
370685 招远市 Zhaoyuan
370686 栖霞市 Qixia
370687 海阳市 Haiyang
370702 潍城区 Weicheng
370703 寒亭区 Hanting
370704 坊子区 Fangzi
370705 奎文区 Kuiwen
370724 临朐县 Linqu
370725 昌乐县 Changle
370781 青州市 Qingzhou
370782 诸城市 Zhucheng
370783 寿光市 Shouguang
370784 安丘市 Anqiu
370785 高密市 Gaomi
370786 昌邑市 Changyi
370811 任城区 Rencheng
370812 兖州区 Yanzhou
370826 微山县 Weishan
370827 鱼台县 Yutai
370828 金乡县 Jinxiang
370829 嘉祥县 Jiaxiang
370830 汶上县 Wenshang
370831 泗水县 Sishui
370832 梁山县 Liangshan
370881 曲阜市 Qufu
370883 邹城市 Zoucheng
370902 泰山区 Taishan
370911 岱岳区 Daiyue
370921 宁阳县 Ningyang
370923 东平县 Dongping
370982 新泰市 Xintai
370983 肥城市 Feicheng
371002 环翠区 Huancui
371003 文登区 Wendeng
371082 荣成市 Rongcheng
371083 乳山市 Rushan
371102 东港区 Donggang
371103 岚山区 Lanshan
371121 五莲县 Wulian
371122 莒县 Ju
371302 兰山区 Lanshan
371311 罗庄区 Luozhuang
371312 河东区 Hedong
371321 沂南县 Yinan
371322 郯城县 Tancheng
371323 沂水县 Yishui
371324 兰陵县 Lanling
371325 费县 Fei
371326 平邑县 Pingyi
371327 莒南县 Junan
371328 蒙阴县 Mengyin
371329 临沭县 Linshu
371402 德城区 Decheng
371403 陵城区 Lingcheng
371422 宁津县 Ningjin
371423 庆云县 Qingyun
371424 临邑县 Linyi
371425 齐河县 Qihe
371426 平原县 Pingyuan
371427 夏津县 Xiajin
371428 武城县 Wucheng
371481 乐陵市 Laoling
371482 禹城市 Yucheng
371502 东昌府区 Dongchangfu
371503 茌平区 Chiping
371521 阳谷县 Yanggu
371522 莘县 Shen
371524 东阿县 Dong'e
371525 冠县 Guan
371526 高唐县 Gaotang
371581 临清市 Linqing
371602 滨城区 Bincheng
371603 沾化区 Zhanhua
371621 惠民县 Huimin
371622 阳信县 Yangxin
371623 无棣县 Wudi
371625 博兴县 Boxing
371681 邹平市 Zouping
371702 牡丹区 Mudan
371703 定陶区 Dingtao
371721 曹县 Cao
371722 单县 Shan
371723 成武县 Chengwu
371724 巨野县 Juye
371725 郓城县 Yuncheng
371726 鄄城县 Juancheng
371728 东明县 Dongming
"""


def slug(text):
    """ASCII key part: lower case, apostrophes dropped, other non-alphanumerics -> '-'."""
    out, dash = [], False
    for ch in text.lower().replace("'", ""):
        if ch.isascii() and ch.isalnum():
            out.append(ch)
            dash = False
        elif not dash and out:
            out.append("-")
            dash = True
    return "".join(out).strip("-")


def units():
    """Every county-level unit of the code table, with its city and kind, no population yet."""
    rows = []
    for line in UNITS.strip().splitlines():
        code, zh, name = line.split(maxsplit=2)
        city = CITY_OF_PREFIX[code[:4]]
        rows.append({"key": f"{city}-{slug(name)}", "code": code, "name": name, "name_zh": zh,
                     "city": city, "kind": KIND[zh[-1]], "population": None,
                     "population_source": None})
    keys = [r["key"] for r in rows]
    for r in rows:                      # same key twice in one city: append the kind
        if keys.count(r["key"]) > 1:
            r["key"] += "-" + r["kind"]
    return rows


def split(total, rows):
    """Give `total` residents to `rows` in proportion to WEIGHT[kind], largest remainder.

    Integer arithmetic: weights are taken in tenths, so quotas are exact fractions.
    """
    w = [round(WEIGHT[r["kind"]] * 10) for r in rows]
    wsum = sum(w)
    base = [total * wi // wsum for wi in w]
    rem = [total * wi % wsum for wi in w]
    left = total - sum(base)
    order = sorted(range(len(rows)), key=lambda i: (-rem[i], rows[i]["code"]))
    for i in order[:left]:
        base[i] += 1
    for r, n in zip(rows, base, strict=True):
        r["population"] = n
        r["population_source"] = "synthetic"


def build():
    """The counties and cities tables: census rows as given, the rest by the rule."""
    rows = units()
    for r in rows:
        if r["code"] in CENSUS_UNITS:
            r["population"] = CENSUS_UNITS[r["code"]]
            r["population_source"] = "census"
    known_city = {c[0]: c[3] for c in CITY_ROWS if len(c) > 3}
    rest = PROVINCE_TOTAL
    rest_rows = []
    for city in sorted({r["city"] for r in rows}):
        mine = [r for r in rows if r["city"] == city]
        census = sum(r["population"] for r in mine if r["population_source"] == "census")
        synth = [r for r in mine if r["population_source"] is None]
        if city in known_city and synth:          # Linyi: its own remainder first
            split(known_city[city] - census, synth)
            rest -= known_city[city]
        else:                                     # Jinan (all census) and the 14 unknown cities
            rest -= census
            rest_rows += synth
    split(rest, sorted(rest_rows, key=lambda r: r["code"]))
    cities = []
    for c in CITY_ROWS:
        key, name, zh = c[:3]
        if len(c) > 3:
            pop, urban, source, url = c[3:]
        else:
            pop = sum(r["population"] for r in rows if r["city"] == key)
            urban, source, url = None, "synthetic", ""
        cities.append({"key": key, "name": name, "name_zh": zh, "population": pop,
                       "urban_population": "" if urban is None else urban,
                       "population_source": source, "source_url": url})
    return rows, cities


UNIT_HEADER = ["key", "code", "name", "name_zh", "city", "kind", "population", "population_source"]
CITY_HEADER = ["key", "name", "name_zh", "population", "urban_population", "population_source",
               "source_url"]


def write(path, header, rows):
    """Write rows (dicts) as a UTF-8 CSV with ``header``."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([r[h] for h in header])


def main():
    """Write both CSV files and print what the rule made."""
    rows, cities = build()
    write(HERE / "shandong_2020_counties.csv", UNIT_HEADER, rows)
    write(HERE / "shandong_2020_cities.csv", CITY_HEADER, cities)
    synth = [r for r in rows if r["population_source"] == "synthetic"]
    print(f"{len(rows)} units, {len(rows) - len(synth)} census, {len(synth)} synthetic; "
          f"province sum {sum(r['population'] for r in rows):,}")
    for group, members in (("linyi", [r for r in synth if r["city"] == "linyi"]),
                           ("rest", [r for r in synth if r["city"] != "linyi"])):
        for kind in ("district", "city", "county"):
            ps = [r["population"] for r in members if r["kind"] == kind]
            if ps:
                mean = sum(ps) / len(ps)
                print(f"  synthetic {group:<5} {kind:<8} n={len(ps):>3}  mean {mean:>12,.1f}"
                      f"  min {min(ps):,}  max {max(ps):,}")


if __name__ == "__main__":
    main()
