"""Profiles and configs: good files pass, bad ones fail with a one-line message."""

import pytest

from ttc import cli
from ttc.chapters import CHAPTERS, get_chapter
from ttc.config import ConfigError, build_config, config_hash
from ttc.profiles import ProfileError, available_profiles, load_profile


@pytest.mark.parametrize("name", ["smoke", "cpu", "gpu", "llm", "workshop", "seeds"])
def test_shipped_profiles_are_valid(name):
    assert name in available_profiles()
    profile = load_profile(name)
    assert set(profile) <= set(CHAPTERS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("99_nothing: {}\n", "unknown notebook '99_nothing'"),
        ("01_accounting:\n  n_point: 3\n", "unknown parameter(s) 'n_point'"),
        ("01_accounting:\n  n_points: many\n", "parameter 'n_points': expected int"),
        ("01_accounting:\n  ratios: 2\n", "parameter 'ratios': expected a list"),
        ("01_accounting:\n  ratios: [0.5]\n", "'ratios' must be in"),
        ("01_accounting:\n  family: [f32x2, nope]\n", "unknown family member 'nope'"),
        ("01_accounting: [1, 2]\n", "expected a mapping of parameters"),
        ("02_family:\n  members: [f1]\n", "unknown family member 'f1'"),
        ("02_family:\n  members: []\n", "'members' must name at least 1"),
        ("02_family:\n  device: tpu\n", "'device' must be one of 'auto', 'cpu', 'cuda'"),
        ("02_family:\n  max_ops: 20\n", "max_ops"),
        ("02_family:\n  train_steps: 0\n", "'train_steps' must be in [1, inf]"),
        ("- just a list\n", "expected a mapping of notebook name"),
        ("01_accounting: {n_points: [\n", "not valid YAML"),
    ],
)
def test_bad_profiles_fail_with_one_line(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_profile_lists_the_allowed_ones():
    with pytest.raises(ProfileError, match="allowed: cpu, gpu, llm, seeds, smoke, workshop"):
        load_profile("laptop")


def test_int_is_accepted_for_float_and_lists_become_tuples():
    cfg = build_config(CHAPTERS["01_accounting"].config_cls, {"r_max": 10, "ratios": [2, 3]})
    assert cfg.r_max == 10.0 and isinstance(cfg.r_max, float)
    assert cfg.ratios == (2.0, 3.0)
    with pytest.raises(ConfigError, match="expected int"):
        build_config(CHAPTERS["01_accounting"].config_cls, {"n_points": True})


def test_config_hash_is_stable_and_sensitive():
    cls = CHAPTERS["01_accounting"].config_cls
    assert config_hash(cls()) == config_hash(cls())
    assert config_hash(cls()) != config_hash(cls(n_points=51))


def test_chapter_lookup():
    assert get_chapter("1").key == get_chapter("accounting").key == "01_accounting"
    with pytest.raises(ValueError, match="allowed: 01_accounting"):
        get_chapter("nope")


def test_cli_run_writes_tables(tmp_path, capsys):
    assert cli.main(["run", "01_accounting", "--profile", "smoke", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"curve.csv", "snell.csv", "family.csv"}


def test_cli_reports_bad_parameters_without_traceback(capsys):
    assert cli.main(["run", "1", "--profile", "smoke", "--set", "n_points=-3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ttc: error:") and "n_points" in err and "Traceback" not in err


def test_workshop_trains_the_cpu_family():
    """An instructor's cpu cache serves the workshop: chapter 2's config is the same, so its
    checkpoints (keyed by that config) are the same folders."""
    cls = CHAPTERS["02_family"].config_cls
    assert build_config(cls, load_profile("workshop")["02_family"]) == \
        build_config(cls, load_profile("cpu")["02_family"])


def test_check_profile_loads_no_torch():
    """Validating profiles imports the config path only: no torch, no transformers."""
    import os
    import subprocess
    import sys

    script = ("import sys\nfrom ttc import cli\nrc = cli.main(['check-profile'])\n"
              "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
              "sys.exit(rc)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=os.environ, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "[]", done.stdout
    assert {f"[ttc] profile {name}: ok" for name in available_profiles()} == set(lines[:-1])


def test_seeds_extends_cpu_with_three_seeds_and_nothing_else():
    """The seeds profile is cpu's, with chapter 7's exchange repeated for three seeds."""
    seeds, cpu = load_profile("seeds"), load_profile("cpu")
    assert seeds["07_compute_optimal"] == {**cpu["07_compute_optimal"], "seeds": [0, 1, 2]}
    assert {k: v for k, v in seeds.items() if k != "07_compute_optimal"} == {
        k: v for k, v in cpu.items() if k != "07_compute_optimal"}


def test_extends_merges_per_chapter_and_rejects_cycles(tmp_path):
    base = tmp_path / "base.yaml"
    child = tmp_path / "child.yaml"
    base.write_text("".join(f"{key}: {{}}\n" for key in CHAPTERS if key != "01_accounting")
                    + "01_accounting: {n_points: 7, r_min: 0.1}\n")
    child.write_text(f"extends: {base}\n01_accounting:\n  n_points: 9\n")
    merged = load_profile(child)
    assert merged["01_accounting"] == {"n_points": 9, "r_min": 0.1}  # the parent's r_min
    assert merged["02_family"] == {}  # a chapter the child does not name: the parent's
    child.write_text(f"extends: {child}\n")
    with pytest.raises(ProfileError, match="cycle"):
        load_profile(child)
    child.write_text("extends: [cpu]\n")
    with pytest.raises(ProfileError, match="'extends' must name a profile"):
        load_profile(child)
    child.write_text(f"extends: {base}\n01_accounting:\n  n_points: many\n")
    with pytest.raises(ProfileError, match="expected int"):  # the merge is validated
        load_profile(child)


def test_require_distinct_ints_names_the_parameter_and_the_bound():
    from ttc.config import require_distinct_ints

    require_distinct_ints("k", (1, 4), low=1)
    for bad in ((), (2, 2), (0,), (1.5,), (True,)):
        with pytest.raises(ConfigError, match=r"parameter 'k' must be .* >= 1"):
            require_distinct_ints("k", bad, low=1)
