"""A stand-in for ``quarto render`` in the injection tests (Quarto cannot be installed here):
what Quarto 1.11 does with the build's project that decides whether run-derived text becomes
markup, with the real parts where they exist. NOT a render: no Lua filters, no theme.

- Each page notebook becomes Markdown the way Quarto's Jupyter engine writes it
  (``src/core/jupyter/jupyter.ts``: Markdown cells as they are; each output in a
  ``::: {.cell-output ...}`` div; text/html before text/markdown; HTML as a ```` ```{=html} ````
  raw block fenced longer than any backtick run inside it; streams as code blocks).
- That Markdown goes through the real pandoc (``pypandoc-binary``) with the project's reader
  (``markdown-smart``), as Quarto hands it to pandoc.
- ``website.title`` is read as Markdown inlines by the same pandoc (Quarto's navbar title
  handler renders it so and sets the navbar's innerHTML), its plain text goes into ``<title>``.
- The result is transplanted into the reference render's page (``../shared/quarto-render``,
  a real Quarto 1.11 page): its ``<main>``, navbar title and ``<title>`` replaced, the rest as
  Quarto wrote it. ``search.json`` is made like Quarto's: one entry per section, its text
  the section's text with ``<>&`` escaped.

Run as ``python tests/quarto_sim.py render <project>`` (the fake ``quarto`` on PATH calls
it); ``$SWEEPSIGHT_QUARTO_CAPTURE`` names a folder to copy the project into first (the Quarto
inputs, for the tests), ``$SWEEPSIGHT_QUARTO_REFERENCE`` the reference render's folder.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import yaml


def _fence(text: str, info: str = "") -> str:
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{ticks}{info}\n{text}{'' if text.endswith(chr(10)) else chr(10)}{ticks}\n"


def _output_md(output: dict) -> str:
    """One output as Quarto's Jupyter engine writes it (the div's content and classes)."""
    kind = output["output_type"]
    if kind == "stream":
        text = _fence("".join(output["text"]))
        return f"::: {{.cell-output .cell-output-{output['name']}}}\n{text}:::\n"
    if kind == "error":
        text = _fence(f"{output['ename']}: {output['evalue']}")
        return f"::: {{.cell-output .cell-output-error}}\n{text}:::\n"
    data = output.get("data", {})
    for mime in ("text/html", "text/markdown", "text/plain"):
        if mime in data:
            text = "".join(data[mime]) if isinstance(data[mime], list) else data[mime]
            if mime == "text/html":
                body, classes = _fence(text, "{=html}"), ""
            elif mime == "text/markdown":
                body, classes = text + "\n", " .cell-output-markdown"
            else:
                body, classes = _fence(text), ""
            return f"::: {{.cell-output .cell-output-display{classes}}}\n{body}:::\n"
    return ""


def notebook_markdown(nb: dict) -> str:
    """The notebook as the Markdown Quarto hands to pandoc (cells and outputs)."""
    parts = []
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            parts.append(source + "\n")
        elif cell["cell_type"] == "code" and cell.get("outputs"):
            parts.append("::: {.cell}\n" + "".join(_output_md(o) for o in cell["outputs"]) + ":::\n")
    return "\n".join(parts)


def pandoc(text: str, to: str = "html5") -> str:
    import pypandoc

    return pypandoc.convert_text(text, to, format="markdown-smart", extra_args=["--wrap=none"])


def title_html(title: str) -> str:
    """``website.title`` as Quarto puts it into the navbar: pandoc's inlines, no ``<p>``."""
    out = pandoc(title).strip()
    return out[3:-4] if out.startswith("<p>") and out.endswith("</p>") else out


class _Sections(HTMLParser):
    """Text per ``<h2>`` section of a page, for ``search.json``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections: list[list[str]] = [["", ""]]
        self._skip = 0
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "h2":
            self._in_h2 = True
            self.sections.append(["", ""])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if not self._skip:
            self.sections[-1][0 if self._in_h2 else 1] += data


def page(reference: str, *, body: str, title: str, page_title: str) -> str:
    """The reference page with Quarto's places for our text filled with ours."""
    text = re.sub(r"(<main\b[^>]*>).*(</main>)", lambda m: m.group(1) + "\n" + body + "\n" + m.group(2),
                  reference, count=1, flags=re.S)
    text = re.sub(r'(<span class="navbar-title">).*?(</span>)',
                  lambda m: m.group(1) + title_html(title) + m.group(2), text, flags=re.S)
    plain = html.escape(f"{page_title} – {' '.join(pandoc(title, 'plain').split())}", quote=False)
    return re.sub(r"<title>.*?</title>", lambda m: f"<title>{plain}</title>", text, count=1, flags=re.S)


def render(project: Path, reference: Path) -> None:
    config = yaml.safe_load((project / "_quarto.yml").read_text(encoding="utf-8"))
    out = project / config["project"]["output-dir"]
    out.mkdir()
    title = str(config["website"]["title"])
    search = []
    for src in config["project"]["render"]:
        stem = src.removesuffix(".ipynb")
        nb = json.loads((project / src).read_text(encoding="utf-8"))
        heading = re.search(r"^# (.+)$", "".join(nb["cells"][0]["source"]), flags=re.M)
        body = pandoc(notebook_markdown(nb))
        # a page newer than the reference render takes another page's template: Quarto's
        # frame around the body (navbar, title, scripts) is the same on every page
        known = reference / f"{stem}.html"
        template = (known if known.exists() else reference / "linear.html").read_text(encoding="utf-8")
        (out / f"{stem}.html").write_text(
            page(template, body=body, title=title, page_title=heading.group(1) if heading else stem),
            encoding="utf-8")
        parser = _Sections()
        parser.feed(body)
        for i, (section, text) in enumerate(parser.sections):
            search.append({"objectID": f"{stem}.html#{i}", "href": f"{stem}.html", "title": stem,
                           "section": html.escape(section.strip(), quote=False),
                           "text": html.escape(text.strip(), quote=False)})
    (out / "search.json").write_text(json.dumps(search), encoding="utf-8")
    for resource in config["project"].get("resources", []):
        src = project / resource.lstrip("/")
        (out / src.relative_to(project)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / src.relative_to(project))


def main(argv: list[str]) -> int:
    assert argv[0] == "render", argv
    project = Path(argv[1])
    capture = os.environ.get("SWEEPSIGHT_QUARTO_CAPTURE")
    if capture:
        shutil.copytree(project, capture, ignore=shutil.ignore_patterns("assets"))
    render(project, Path(os.environ["SWEEPSIGHT_QUARTO_REFERENCE"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
