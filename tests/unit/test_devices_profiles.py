"""Device profiles: the shipped ones are valid; mistakes are errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeq.devices.profiles import DeviceProfile, get_profile, load_all_profiles, load_profile_file, scan_profiles
from edgeq.errors import InputError, ProfileInvalid

SHIPPED = {"local", "rpi4", "rpi5", "coral-usb-rpi", "coral-devboard", "android-arm64"}


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDGEQ_DEVICES_DIR", str(tmp_path))
    return tmp_path


def test_shipped_profiles_load_and_cover_the_issue(user_dir: Path) -> None:
    profiles = {p.name: p for p in load_all_profiles()}
    assert SHIPPED <= set(profiles)
    assert all(p.builtin and p.schema_version == 1 for p in profiles.values())
    assert profiles["coral-usb-rpi"].delegate == "edgetpu" and profiles["coral-usb-rpi"].expect.full_integer
    assert profiles["coral-usb-rpi"].effective_delegate_path == "libedgetpu.so.1"
    assert profiles["android-arm64"].transport == "adb" and profiles["android-arm64"].adb is not None
    assert profiles["rpi5"].ssh is not None and profiles["rpi5"].ssh.host == "rpi5"
    # the local profile runs the runner with edgeq's own Python, which has ai-edge-litert
    import sys

    assert profiles["local"].python_argv == [sys.executable]


def test_shipped_files_have_comments() -> None:
    root = Path(__file__).resolve().parents[2] / "device_profiles"
    for name in SHIPPED:
        text = (root / f"{name}.toml").read_text()
        assert text.lstrip().startswith("#") and "schema_version = 1" in text, name


def _write(folder: Path, name: str, text: str) -> Path:
    p = folder / f"{name}.toml"
    p.write_text(text)
    return p


def test_unknown_top_level_key_names_file_and_key(user_dir: Path) -> None:
    p = _write(user_dir, "box", 'schema_version = 1\nname = "box"\ntransport = "local"\nthread = 4\n')
    with pytest.raises(ProfileInvalid) as e:
        get_profile("box")
    assert str(p) in e.value.message and "'thread'" in e.value.message
    assert "did you mean 'threads'?" in e.value.hint and "run_timeout" in e.value.hint  # then every known key


def test_a_broken_profile_file_hides_no_other_device(user_dir: Path) -> None:
    """One typo in one file of yours: that device fails with the reason, every other one still works."""
    _write(user_dir, "typo", 'schema_version = 1\nname = "board"\ntransport = "local"\nrun_timout = 5\n')
    _write(user_dir, "fine", 'schema_version = 1\nname = "fine"\ntransport = "local"\n')
    found = scan_profiles()
    names = {p.name for p in found.profiles}
    assert {"local", "rpi5", "fine"} <= names and "board" not in names
    (problem,) = found.problems
    assert problem.path.name == "typo.toml" and problem.name == "board"
    assert get_profile("local").name == "local" and get_profile("fine").name == "fine"
    for name in ("board", "typo"):  # by the name it declares, or by its file name
        with pytest.raises(ProfileInvalid, match="unknown key 'run_timout'") as e:
            get_profile(name)
        assert "did you mean 'run_timeout'?" in e.value.hint
    with pytest.raises(InputError, match="unreadable profile file\\(s\\): typo.toml"):
        get_profile("elsewhere")


def test_unknown_nested_key_names_the_table(user_dir: Path) -> None:
    p = _write(user_dir, "pi", 'schema_version = 1\nname = "pi"\ntransport = "ssh"\n[ssh]\nhost = "pi"\nhostname = "x"\n')
    with pytest.raises(ProfileInvalid, match=r"unknown key 'ssh\.hostname'") as e:
        load_profile_file(p)
    assert str(p) in e.value.message


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('transport = "local"\nthreads = "four"\n', "threads"),
        ('transport = "local"\nthreads = true\n', "threads"),
        ('transport = "local"\naffinity = [0, "1"]\n', "affinity"),
        ('transport = "local"\nthreads = 0\n', "threads"),
        ('transport = "carrier-pigeon"\n', "transport"),
        ('transport = "ssh"\n', "ssh.host"),
        ('transport = "local"\ndelegate = "external"\n', "delegate_path"),
        ('transport = "ssh"\ndelegate = "gpu"\n[ssh]\nhost = "x"\n', "delegate"),
        ('transport = "local"\nwork_dir = "relative/dir"\n', "work_dir"),
        ('transport = "ssh"\n[ssh]\nhost = "x"\nport = 70000\n', "ssh.port"),
        ('transport = "local"\n[expect]\nedgetpu_compiled = true\n', "expect.edgetpu_compiled"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    p = _write(tmp_path, "bad", 'schema_version = 1\nname = "bad"\n' + body)
    with pytest.raises(ProfileInvalid) as e:
        load_profile_file(p)
    assert str(p) in e.value.message and f"'{key}'" in e.value.message


def test_schema_version_required_and_not_from_the_future(tmp_path: Path) -> None:
    with pytest.raises(ProfileInvalid, match="schema_version"):
        load_profile_file(_write(tmp_path, "a", 'name = "a"\ntransport = "local"\n'))
    with pytest.raises(ProfileInvalid, match="newer"):
        load_profile_file(_write(tmp_path, "b", 'schema_version = 9\nname = "b"\ntransport = "local"\n'))


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    p = _write(tmp_path, "broken", "schema_version = 1\nname = \n")
    with pytest.raises(ProfileInvalid, match="not valid TOML") as e:
        load_profile_file(p)
    assert str(p) in e.value.message


def test_user_profile_overrides_builtin_and_duplicates_are_refused(user_dir: Path) -> None:
    _write(user_dir, "mine", 'schema_version = 1\nname = "rpi5"\ntransport = "ssh"\nthreads = 2\n[ssh]\nhost = "10.0.0.5"\n')
    rpi5 = get_profile("rpi5")
    assert not rpi5.builtin and rpi5.threads == 2 and rpi5.ssh.host == "10.0.0.5"
    _write(user_dir, "mine2", 'schema_version = 1\nname = "rpi5"\ntransport = "local"\n')
    (problem,) = scan_profiles().problems
    assert problem.path.name == "mine2.toml" and "already defined" in problem.error.message
    assert get_profile("rpi5").threads == 2, "the first file keeps the name"


def test_unknown_device_lists_known_names(user_dir: Path) -> None:
    with pytest.raises(InputError) as e:
        get_profile("pixel99")
    assert "pixel99" in e.value.message and "rpi5" in e.value.message and "coral-usb-rpi" in e.value.message
    assert "edgeq devices list" in e.value.hint


def test_from_dict_round_trip_keeps_settings() -> None:
    p = DeviceProfile.from_dict(
        {"schema_version": 1, "name": "x", "transport": "local", "affinity": [2, 3], "env": {"OMP_NUM_THREADS": 1},
         "delegate_options": {"device": "usb"}},
        source="mem",
    )
    d = p.to_dict()
    assert d["affinity"] == [2, 3] and d["env"] == {"OMP_NUM_THREADS": "1"} and d["delegate_options"] == {"device": "usb"}
