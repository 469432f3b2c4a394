"""The README's contract: it opens with exactly the two set-up commands, and its links to
files in the repository resolve (an edit that mangles it fails here, not on a reader)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_two_setup_commands():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block and README.index("```bash") < README.index("\n## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert [c for c in commands if c] == ["make install train", "make test"]


def test_readme_is_one_document_of_sane_size():
    """A slice replacement with an empty match once interleaved a paragraph through every
    character of the README (218 k lines); nothing else noticed."""
    lines = README.splitlines()
    assert 100 < len(lines) < 2000
    headings = re.findall(r"^## .+$", README, re.M)
    assert len(set(headings)) == len(headings), "a section heading appears twice"


def test_readme_links_to_repository_files_resolve():
    targets = re.findall(r"\]\(((?:experiments|configs|depix|tests)/[^)#\s]+)\)", README)
    assert targets, "no links found: the pattern no longer matches the README"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"
