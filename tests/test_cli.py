"""The command line: every mistake is one line, and the listing says what each chapter takes."""

import pytest

from ttc import __version__, cli
from ttc.chapters import CHAPTERS


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"ttc {__version__}"


def test_list_names_every_chapter_its_inputs_and_defaults(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for key, chapter in CHAPTERS.items():
        assert key in out
        for name in chapter.parameter_names():
            assert f"    {name} = " in out
    assert "07_compute_optimal  Compute-optimal scaling and the exchange  (reads 02_family" in out


@pytest.mark.parametrize("argv", [["run", "bogus"], ["run", "1", "--profile", "laptop"],
                                  ["run", "1", "--set", "n_points"],
                                  ["book", "--profile", "smoke", "--only", "nope"]])
def test_mistakes_are_one_line(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ttc: error:") and len(err.strip().splitlines()) == 1
