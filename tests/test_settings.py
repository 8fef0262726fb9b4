import json

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


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    store = SettingsStore(tmp_path)
    store.save(Settings(shade="Mauve"))
    store.save(Settings(shade="Cherry"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
    assert json.loads((tmp_path / "settings.json").read_text())["shade"] == "Cherry"
