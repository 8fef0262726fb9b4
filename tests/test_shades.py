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
