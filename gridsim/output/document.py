"""A report as a list of blocks, rendered to Markdown or to one self-contained HTML file.

:class:`Document` knows nothing of experiments: :mod:`gridsim.output.report` fills one
with headings, paragraphs, lists, tables and PNG images, then renders it. The HTML embeds
each image as base64, so the single file can be mailed or archived.

Example:
    >>> doc = Document("KPIs")
    >>> doc.table(["KPI", "mean"], [["on-time rate", "91 %"]])
    >>> print(doc.to_markdown())
    # KPIs
    <BLANKLINE>
    | KPI | mean |
    |---|---|
    | on-time rate | 91 % |
    <BLANKLINE>
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Block", "Document"]


@dataclass
class Block:
    """One piece of a report: a heading, paragraph, list, table or image.

    Attributes:
        kind: ``h1``, ``h2``, ``h3``, ``p``, ``ul``, ``table`` or ``img``.
        text: heading or paragraph text, or an image caption.
        items: list items (``ul``), or table header then rows (``table``).
        image: PNG bytes (``img``).
        path: the image's file, relative to the report (``img``).
    """

    kind: str
    text: str = ""
    items: list[Any] = field(default_factory=list)
    image: bytes = b""
    path: str = ""


@dataclass
class Document:
    """A report as a list of blocks, rendered to Markdown or self-contained HTML.

    Example:
        >>> doc = Document("T")
        >>> doc.add("p", "Hello")
        >>> doc.to_markdown().splitlines()[:3]
        ['# T', '', 'Hello']
        >>> "<p>Hello</p>" in doc.to_html()
        True
    """

    title: str
    blocks: list[Block] = field(default_factory=list)
    lang: str = "en"

    def add(self, kind: str, text: str = "", **kw: Any) -> None:
        """Append a block."""
        self.blocks.append(Block(kind, text, **kw))

    def table(self, header: list[str], rows: Iterable[list[Any]]) -> None:
        """Append a table."""
        self.blocks.append(Block("table", items=[header, *rows]))

    def to_markdown(self) -> str:
        """Render as GitHub-flavoured Markdown (images linked, not embedded)."""
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if b.kind in ("h1", "h2", "h3"):
                out += ["#" * int(b.kind[1]) + " " + b.text, ""]
            elif b.kind == "p":
                out += ["  \n".join(b.text.splitlines()), ""]
            elif b.kind == "ul":
                out += [f"- {item}" for item in b.items] + [""]
            elif b.kind == "table":
                header, *rows = b.items
                out.append("| " + " | ".join(_md_cell(c) for c in header) + " |")
                out.append("|" + "|".join("---" for _ in header) + "|")
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
                out.append("")
            elif b.kind == "img":
                out += [f"![{b.text}]({b.path})", "", f"*{b.text}*", ""]
        return "\n".join(out).rstrip() + "\n"

    def to_html(self) -> str:
        """Render as one HTML file with every image embedded as a base64 PNG."""
        e = html.escape
        body = [f"<h1>{e(self.title)}</h1>"]
        for b in self.blocks:
            if b.kind in ("h1", "h2", "h3"):
                body.append(f"<{b.kind}>{e(b.text)}</{b.kind}>")
            elif b.kind == "p":
                body.append("<p>" + "<br>".join(e(line) for line in b.text.splitlines()) + "</p>")
            elif b.kind == "ul":
                body.append("<ul>" + "".join(f"<li>{e(str(i))}</li>" for i in b.items) + "</ul>")
            elif b.kind == "table":
                header, *rows = b.items
                head = "".join(f"<th>{e(str(c))}</th>" for c in header)
                cells = "".join(
                    "<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows
                )
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
            elif b.kind == "img":
                data = base64.b64encode(b.image).decode("ascii")
                body.append(
                    f'<figure><img alt="{e(b.text)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{e(b.text)}</figcaption></figure>"
                )
        lang = "zh-CN" if self.lang == "zh" else "en"
        return (
            f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{e(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body)
            + "\n</body>\n</html>\n"
        )


_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','Microsoft YaHei',"
    "sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}"
    "table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}"
    "th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}"
    "th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}"
    "thead{background:#f3f3f3}figure{margin:1rem 0}img{max-width:100%}"
    "figcaption{font-size:.85rem;color:#555}h2{border-bottom:1px solid #ddd}"
)


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
