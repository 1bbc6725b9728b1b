"""The repository documents itself: every citation points at a file inside it.

* no file cites design notes that live outside the repository (a clone could not follow them);
* every ``docs/<name>.md`` cited from code, tests, scripts or docs exists, and so does the heading a
  ``#anchor`` names (GitHub's anchor rules);
* relative Markdown links in the repository's ``.md`` files resolve to files inside it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Files whose text is ours to check: source, scripts, docs and configuration. Data copied from
# elsewhere (the swagger document, KubeVirt's example manifests) keeps its own provenance notes.
TEXT_SUFFIXES = {".py", ".sh", ".md", ".toml", ".cfg", ".ini", ".txt", ".importlinter", ".bash", ".fish"}
TEXT_NAMES = {".importlinter", "run"}

# Written in pieces so that this file does not match its own patterns.
_OUTSIDE = [
    r"\.\./" + "shared",
    "/work" + "/",                      # this machine's directories: a clone has none of them
    r"\bDESIGN" + r"(\.md| §)",
    r"\bREFERENCE" + r"(\.md| §)",
    r"\bLIBVIRT" + r"\.md",
    r"\bKUBE-API-" + "COMPAT",
]
OUTSIDE_CITATION = re.compile("|".join(_OUTSIDE))

DOC_CITATION = re.compile(r"\bdocs/([A-Za-z0-9_.-]+\.md)(#[A-Za-z0-9_-]+)?")
# the other way to name a section: docs/standalone.md, "Volumes" (or docs/standalone.md ("Volumes"))
DOC_SECTION = re.compile(r"\bdocs/([A-Za-z0-9_.-]+\.md),? \(?\"([^\"]+)\"")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def repo_files() -> list[Path]:
    """Tracked files plus new ones not ignored, as a clone would have them after a commit."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    files = []
    for line in out.splitlines():
        path = ROOT / line
        if not path.is_file():
            continue                                    # deleted in the working tree
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES:
            files.append(path)
    return files


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading anchor of a Markdown document (headings inside code fences are not headings)."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(2))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def test_slug_follows_github() -> None:
    assert slug("Output, errors and exit codes") == "output-errors-and-exit-codes"
    assert slug("Refused with 422") == "refused-with-422"
    assert slug("`create vm`") == "create-vm"
    assert anchors("# A\n```\n# not a heading\n```\n## A\n") == {"a", "a-1"}
    m = DOC_SECTION.search('see docs/standalone.md ("Reaching the guest") for')
    assert m is not None and slug(m.group(2)) == "reaching-the-guest"


def test_no_citation_of_files_outside_the_repository() -> None:
    bad = []
    for path in repo_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE_CITATION.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "cite docs/ instead of files outside the repository:\n" + "\n".join(bad)


def test_cited_docs_and_anchors_exist() -> None:
    cache: dict[str, set[str] | None] = {}
    bad = []
    for path in repo_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            cited = [(m.group(1), m.group(2)) for m in DOC_CITATION.finditer(line)]
            cited += [(m.group(1), "#" + slug(m.group(2))) for m in DOC_SECTION.finditer(line)]
            for name, anchor in cited:
                if name not in cache:
                    doc = DOCS / name
                    cache[name] = anchors(doc.read_text()) if doc.is_file() else None
                where = f"{path.relative_to(ROOT)}:{n}"
                if cache[name] is None:
                    bad.append(f"{where}: docs/{name} does not exist")
                elif anchor and anchor[1:] not in cache[name]:
                    bad.append(f"{where}: docs/{name} has no heading for {anchor}")
    assert not bad, "\n".join(bad)


MARKDOWN = sorted(p.name for p in ROOT.glob("*.md")) + sorted(f"docs/{p.name}" for p in DOCS.glob("*.md"))


@pytest.mark.parametrize("doc", MARKDOWN)
def test_markdown_links_stay_inside_the_repository(doc: str) -> None:
    path = ROOT / doc
    bad = []
    for m in MD_LINK.finditer(path.read_text()):
        target = m.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):      # https:, mailto:, …
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if ROOT not in dest.parents and dest != ROOT:
            bad.append(f"{target}: outside the repository")
        elif not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text()):
            bad.append(f"{target}: no such heading")
    assert not bad, f"{doc}: " + "; ".join(bad)
