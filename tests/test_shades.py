import json
import logging

import pytest

from vcam_lipstick.processing.shades import Finish, Look, Shade, ShadeBook, ShadeError, parse_finish, parse_hex


def test_builtins_cover_the_families_and_at_least_24_shades():
    book = ShadeBook.load()
    assert len(book) >= 24
    assert {"nudes", "pinks", "corals", "reds", "berries", "plums", "browns", "bold"} <= set(book.families())


def test_lookup_is_case_insensitive_and_hex_makes_a_custom_shade():
    book = ShadeBook.load()
    assert book.get("classic red").name == "Classic Red"
    custom = book.get("#b01020")
    assert custom.rgb == (0xB0, 0x10, 0x20) and custom.family == "custom" and custom.hex == "#B01020"


def test_unknown_shade_lists_the_closest_names():
    with pytest.raises(ShadeError, match="Classic Red"):
        ShadeBook.load().get("Clasic Red")


@pytest.mark.parametrize("bad", ["#12345", "#GGGGGG", "red", "#1234567", ""])
def test_bad_hex_is_a_clear_error(bad):
    with pytest.raises(ShadeError):
        parse_hex(bad)


def test_bad_finish_and_intensity():
    with pytest.raises(ShadeError, match="matte"):
        parse_finish("glitter")
    with pytest.raises(ShadeError):
        Look(Shade.custom("#ff0000"), Finish.MATTE, 1.5)


def test_user_file_adds_and_overrides_and_skips_bad_entries(tmp_path, caplog):
    user = tmp_path / "shades.json"
    user.write_text(json.dumps({"shades": [
        {"name": "My Red", "family": "reds", "color": "#B01020", "finish": "matte"},
        {"name": "Classic Red", "color": "#AA0000"},
        {"name": "Broken", "color": "#XYZ"},
        {"color": "#112233"},
        {"name": "Odd Finish", "color": "#112233", "finish": "sparkly"},
        "not an object",
    ]}))
    with caplog.at_level(logging.WARNING):
        book = ShadeBook.load(user)
    assert book.get("My Red").finish is Finish.MATTE
    assert book.get("Classic Red").rgb == (0xAA, 0, 0)
    for name in ("Broken", "Odd Finish"):
        with pytest.raises(ShadeError):
            book.get(name)
    text = caplog.text
    assert "Broken" in text and "Odd Finish" in text and "missing 'name'" in text


def test_corrupt_user_file_keeps_the_builtins(tmp_path):
    user = tmp_path / "shades.json"
    user.write_text("{ not json")
    before = user.read_text()
    assert len(ShadeBook.load(user)) >= 24
    assert user.read_text() == before  # never rewritten


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_names_with_control_characters_or_null_are_skipped_and_named_safely(tmp_path, caplog):
    user = tmp_path / "shades.json"
    user.write_text(json.dumps({"shades": [
        {"name": "Evil\x1b[2J\nRed", "color": "#B01020"},
        {"name": None, "color": "#112233"},
        {"name": "Fine", "family": "reds\x07", "color": "#112233"},
        {"name": "Kept", "color": "#112233"},
    ]}))
    with caplog.at_level(logging.WARNING):
        book = ShadeBook.load(user)
    assert book.get("Kept").rgb == (0x11, 0x22, 0x33)
    assert "None" not in {s.name for s in book} and "Fine" not in {s.name for s in book}
    assert all(s.name.isprintable() and s.family.isprintable() for s in book)
    warnings = _warnings(caplog)
    assert len(warnings) == 3
    assert "\x1b" not in caplog.text and "\x07" not in caplog.text and all("\n" not in w for w in warnings)
    assert "'Evil\\x1b[2J\\nRed'" in warnings[0]  # named as repr: visible, not executed by the terminal
    assert "null" in warnings[1]


def test_duplicate_names_are_warned_about_once_each_and_the_later_wins(tmp_path, caplog):
    user = tmp_path / "shades.json"
    user.write_text(json.dumps({"shades": [
        {"name": "My Red", "color": "#100000"},
        {"name": "my red", "color": "#200000"},
        {"name": "MY RED", "color": "#300000"},
        {"name": "Classic Red", "color": "#AA0000"},  # overriding a built-in is a feature, not a duplicate
    ]}))
    with caplog.at_level(logging.WARNING):
        book = ShadeBook.load(user)
    assert book.get("My Red").rgb == (0x30, 0, 0)
    warnings = _warnings(caplog)
    assert len(warnings) == 2 and all("repeats" in w for w in warnings)
    assert "#2 'my red'" in warnings[0] and "#3 'MY RED'" in warnings[1]


def test_builtin_shades_have_no_duplicates_or_odd_names(caplog):
    with caplog.at_level(logging.WARNING):
        book = ShadeBook.load()
    assert _warnings(caplog) == []
    assert all(s.name.isprintable() for s in book)


@pytest.mark.parametrize("content", [b"[" * 2_000_000, b"[" * 900_000, b"\xff\xfe{}", b"{\"shades\": 5}"],
                         ids=["too-large", "too-deep", "not-utf8", "not-a-list"])
def test_unusable_user_file_keeps_the_builtins_with_one_warning(tmp_path, caplog, content):
    user = tmp_path / "shades.json"
    user.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        book = ShadeBook.load(user)
    assert len(book) == len(ShadeBook.load())
    assert len(_warnings(caplog)) == 1
    assert user.read_bytes() == content  # never moved or rewritten


# -- the command line: 'shades --json' and 'shades --sheet' -------------------------------------------------------

def _user_shades():
    from vcam_lipstick.settings import config_dir

    config_dir().mkdir(parents=True)
    (config_dir() / "shades.json").write_text(json.dumps({"shades": [
        {"name": "My Very Long Custom Shade Name That Wraps", "family": "custom", "color": "#30A0C0"},
        {"name": "Classic Red", "family": "reds", "color": "#AA0000", "finish": "gloss"},
    ]}))


def test_shades_json_lists_every_shade_with_its_colour_family_and_finish(capsys):
    _user_shades()
    from vcam_lipstick.cli import main

    assert main(["shades", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    book = ShadeBook.load()
    assert len(listed) == len(book) + 1  # the built-ins, one overridden, and the user's own
    assert {"name": "Classic Red", "family": "reds", "color": "#AA0000", "finish": "gloss"} in listed
    assert {"name": "Bare Nude", "family": "nudes", "color": "#C48B7A", "finish": "satin"} in listed
    assert all(set(entry) == {"name", "family", "color", "finish"} for entry in listed)
    assert all(ShadeBook.load().get(entry["color"]).hex == entry["color"] for entry in listed)


def _delta_e(image_rgb, rgb):
    """CIE76 colour difference of every pixel of an RGB uint8 picture from one sRGB colour."""
    import cv2
    import numpy as np

    lab = cv2.cvtColor(image_rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    ref = cv2.cvtColor(np.array([[rgb]], np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0, 0]
    return np.linalg.norm(lab - ref, axis=2)


def test_shades_sheet_shows_every_shade_as_a_swatch_within_delta_e_2(tmp_path, capsys):
    """Read the PNG back: each shade has a solid square of its own colour, grouped by family."""
    import cv2
    import numpy as np
    from PIL import Image

    from vcam_lipstick.cli import main

    _user_shades()
    sheet = tmp_path / "sheet.png"
    assert main(["shades", "--sheet", str(sheet)]) == 0
    assert str(sheet) in capsys.readouterr().err
    picture = np.asarray(Image.open(sheet).convert("RGB"))
    book = ShadeBook.load(tmp_path / "config" / "shades.json")
    assert len(book) == len(ShadeBook.load()) + 1
    centres = {}
    for shade in book:
        close = (_delta_e(picture, shade.rgb) <= 2.0).astype(np.uint8)
        n, _, stats, centroids = cv2.connectedComponentsWithStats(close)
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) if n > 1 else None
        assert biggest is not None, f"{shade.name} is not on the sheet"
        x, y, w, h, area = stats[biggest]
        assert min(w, h) >= 40 and area >= 0.9 * w * h, f"{shade.name}: no solid swatch ({w}x{h}, {area} px)"
        cx, cy = (int(v) for v in centroids[biggest])
        assert _delta_e(picture[cy : cy + 1, cx : cx + 1], shade.rgb)[0, 0] <= 2.0
        centres[shade.name] = (cx, cy)
    # Grouped by family: a family's swatches share a column; families do not share one.
    column = {family: {centres[s.name][0] for s in shades} for family, shades in book.families().items()}
    assert all(len(xs) == 1 for xs in column.values()), column
    assert len({next(iter(xs)) for xs in column.values()}) == len(column)


def test_shades_sheet_replaces_an_existing_file_and_refuses_unwritable_paths(tmp_path, capsys):
    from vcam_lipstick.cli import main

    sheet = tmp_path / "sheet.png"
    sheet.write_bytes(b"old")
    assert main(["shades", "--sheet", str(sheet)]) == 0
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # an output you name is yours to replace
    capsys.readouterr()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for bad in (blocker / "sub" / "sheet.png", tmp_path / "sheet.xyz", tmp_path):
        assert main(["shades", "--sheet", str(bad)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), err
        assert str(bad) in err[0] or str(bad.parent) in err[0], err  # names the file or its folder
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "config") == ["file", "sheet.png"]  # no leftovers
