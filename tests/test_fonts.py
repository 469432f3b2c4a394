"""Font splits: disjoint by design family, so no sibling of a trained face counts as unseen."""

import pytest

from depix.data.fonts import BUILTIN, SPLITS, discover_fonts, family_of, split_of

FONTS = discover_fonts("all")
needs_fonts = pytest.mark.skipif(FONTS == (BUILTIN,), reason="no system fonts installed")


@needs_fonts
def test_every_family_lies_in_exactly_one_split():
    splits_of_family: dict[str, set[str]] = {}
    for path in FONTS:
        splits_of_family.setdefault(family_of(path), set()).add(split_of(path))
    assert all(len(s) == 1 for s in splits_of_family.values()), splits_of_family
    parts = [set(discover_fonts(s)) for s in SPLITS]
    assert sum(len(p) for p in parts) == len(FONTS)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


@needs_fonts
def test_siblings_and_derived_designs_share_the_family():
    by_name = {p.rsplit("/", 1)[-1]: p for p in FONTS}
    pairs = [
        ("DejaVuSans.ttf", "DejaVuSansMono-Bold.ttf"),
        ("DejaVuSansMono.ttf", "Hack-Regular.ttf"),
        ("FreeSans.ttf", "FreeMonoBold.ttf"),
        ("Roboto-Regular.ttf", "RobotoCondensed-Bold.ttf"),
    ]
    present = [(a, b) for a, b in pairs if a in by_name and b in by_name]
    if not present:
        pytest.skip("none of the sibling fonts is installed")
    for a, b in present:
        assert family_of(by_name[a]) == family_of(by_name[b])


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="font split"):
        discover_fonts("holdout")
