import json
import logging

import pytest

from conftest import symlink_or_skip
from vcam_lipstick.settings import Settings, SettingsStore


def test_settings_survive_a_restart(tmp_path):
    store = SettingsStore(tmp_path)
    s = store.load()
    s.shade, s.intensity, s.mirror = "Deep Plum", 50, True
    store.save(s)
    again = SettingsStore(tmp_path).load()
    assert (again.shade, again.intensity, again.mirror) == ("Deep Plum", 50, True)


def test_corrupt_file_is_kept_as_bak_and_defaults_are_used(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"shade": "Plum", ')
    s = SettingsStore(tmp_path).load()
    assert s == Settings()
    assert (tmp_path / "settings.json.bak").read_text() == '{"shade": "Plum", '


def test_unknown_keys_dropped_and_bad_values_reset(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps(
        {"shade": "Plum", "intensity": 250, "mirror": "yes", "fps": 0, "future_option": 1, "threads": 2}))
    s = SettingsStore(tmp_path).load()
    assert s.shade == "Plum" and s.threads == 2
    assert s.intensity == Settings().intensity and s.mirror is False and s.fps == 30


def test_a_save_that_fails_midway_keeps_the_previous_settings_and_no_temp_file(tmp_path, monkeypatch):
    """Atomic: a crash or a full disk while writing never leaves a half-written settings.json."""
    store = SettingsStore(tmp_path)
    store.save(Settings(shade="Mauve"))

    def half_written(obj, fh, **kwargs):
        fh.write('{"shade": "Cher')
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(json, "dump", half_written)
        with pytest.raises(OSError):
            store.save(Settings(shade="Cherry"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
    assert SettingsStore(tmp_path).load().shade == "Mauve"
    store.save(Settings(shade="Cherry"))
    assert json.loads((tmp_path / "settings.json").read_text())["shade"] == "Cherry"


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("content", [
    bytes(range(128, 256)) * 4,  # not UTF-8
    b"[" * 2_000_000,  # too large to read (the 50 MB case, smaller)
    b"[" * 900_000 + b"]" * 900_000,  # under the size limit, but nested past Python's recursion limit
], ids=["not-utf8", "too-large", "too-deep"])
def test_unusable_file_is_moved_aside_byte_identical_and_defaults_used(tmp_path, caplog, content):
    (tmp_path / "settings.json").write_bytes(content)
    with caplog.at_level(logging.WARNING):
        s = SettingsStore(tmp_path).load()
    assert s == Settings()
    assert (tmp_path / "settings.json.bak").read_bytes() == content
    assert not (tmp_path / "settings.json").exists()
    (line,) = _warnings(caplog)
    assert "settings.json.bak" in line and "\n" not in line


def test_an_earlier_backup_is_never_overwritten(tmp_path):
    (tmp_path / "settings.json.bak").write_bytes(b"first")
    (tmp_path / "settings.json").write_bytes(b"\xff second")
    assert SettingsStore(tmp_path).load() == Settings()
    assert (tmp_path / "settings.json.bak").read_bytes() == b"first"
    assert (tmp_path / "settings.json.bak.1").read_bytes() == b"\xff second"


def test_a_settings_folder_in_place_of_the_file_gives_defaults(tmp_path, caplog):
    (tmp_path / "settings.json").mkdir()
    with caplog.at_level(logging.WARNING):
        assert SettingsStore(tmp_path).load() == Settings()
    assert (tmp_path / "settings.json").is_dir()
    assert len(_warnings(caplog)) == 1


def test_a_size_or_rate_beyond_the_clis_caps_is_reset_with_one_warning_each(tmp_path, caplog):
    (tmp_path / "settings.json").write_text(json.dumps({"width": 7680, "height": 7680, "fps": 1000, "shade": "Plum"}))
    with caplog.at_level(logging.WARNING):
        s = SettingsStore(tmp_path).load()
    assert (s.width, s.height, s.fps, s.shade) == (1280, 720, 30, "Plum")  # the size is reset as a pair
    warnings = _warnings(caplog)
    assert len(warnings) == 2
    assert any("7680x7680" in w for w in warnings) and any("fps 1000" in w for w in warnings)


@pytest.mark.parametrize("size, fps", [((7680, 4320), 120), ((16, 16), 1), ((7681, 720), 30), ((1280, 4321), 30),
                                       ((1280, 720), 121), ((1280, 720), 0)])
def test_settings_accept_exactly_what_the_cli_accepts(tmp_path, size, fps):
    from vcam_lipstick.cli import build_parser

    (tmp_path / "settings.json").write_text(json.dumps({"width": size[0], "height": size[1], "fps": fps}))
    s = SettingsStore(tmp_path).load()
    settings_ok = (s.width, s.height, s.fps) == (*size, fps)
    try:
        build_parser().parse_args(["run", "--size", f"{size[0]}x{size[1]}", "--fps", str(fps)])
        cli_ok = True
    except SystemExit:
        cli_ok = False
    assert settings_ok == cli_ok


def test_text_settings_with_control_characters_are_reset(tmp_path, caplog):
    (tmp_path / "settings.json").write_text(json.dumps({"shade": "Plum\x1b[2J", "finish": "x" * 5000}))
    with caplog.at_level(logging.WARNING):
        s = SettingsStore(tmp_path).load()
    assert s.shade == Settings().shade and s.finish == ""
    assert "\x1b" not in caplog.text and all(len(w) < 200 for w in _warnings(caplog))


def test_a_settings_file_that_is_a_symbolic_link_stays_one_and_its_target_is_saved(tmp_path):
    dotfiles = tmp_path / "dotfiles" / "vcam-settings.json"
    dotfiles.parent.mkdir()
    config = tmp_path / "config"
    config.mkdir()
    store = SettingsStore(config)
    store.save(Settings(shade="Plum"))
    (config / "settings.json").replace(dotfiles)
    symlink_or_skip(config / "settings.json", dotfiles)
    settings = store.load()
    settings.shade = "Classic Red"
    store.save(settings)
    assert (config / "settings.json").is_symlink()
    assert SettingsStore(config).load().shade == "Classic Red"
    assert sorted(p.name for p in config.iterdir()) == ["settings.json"]  # no temporary file left
