"""The documentation site's generated pages cover what the program has.

(The site itself is built, warnings as errors, by ``python3 dev.py test``.)
"""

from gridsim.kpi_registry import FAMILIES, KPIS
from gridsim.model.loader import json_schema
from gridsim.output.docs_pages import PAGES, kpi_page, scenario_page


def test_kpi_page_lists_every_kpi_of_the_registry_in_both_languages():
    for lang in ("en", "zh"):
        page = kpi_page(lang)
        for k in [*KPIS.values(), *FAMILIES.values()]:
            assert f"| `{k.name}`" in page, (lang, k.name)
            assert (k.label_zh if lang == "zh" else k.label_en).split("{")[0] in page


def test_scenario_page_has_every_section_and_field_of_the_schema():
    schema = json_schema()
    page = scenario_page("en")
    for key in schema["properties"]:
        assert f"{{#{key}}}" in page, key
    for name, model in schema["$defs"].items():
        for field in model.get("properties", {}):
            assert f"| `{field}` |" in page, (name, field)


def test_generated_pages_exist_in_english_and_chinese():
    assert set(PAGES) == {
        "reference/kpis.md", "reference/scenario.md",
        "zh/reference/kpis.md", "zh/reference/scenario.md",
    }  # fmt: skip
    assert all(PAGES[path]().startswith("# ") for path in PAGES)
