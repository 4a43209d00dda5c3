"""The whole book: notebooks execute under the smoke profile, the build is warning-free,
glued numbers reach the pages, and a failing notebook is reported by name and cell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project
from ttc.chapters import CHAPTERS

pytestmark = pytest.mark.slow


def page_text(path: Path) -> str:
    """The visible text of a built page (tags removed, white space folded)."""
    from bs4 import BeautifulSoup

    text = BeautifulSoup(path.read_text(), "html.parser").get_text(" ")
    # Sphinx turns straight quotes into typographic ones; compare with the source's
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split())


def test_every_chapter_is_rendered(smoke_book: Path):
    for key in CHAPTERS:
        page = smoke_book / "notebooks" / f"{key}.html"
        assert page.is_file(), key
        assert "Traceback" not in page.read_text()
        text = page_text(page)
        assert "{glue" not in text, f"{key}: unresolved glue role"
        assert "Summary" in text and "Exercises" in text, key


def test_glued_numbers_reach_chapter_1(smoke_book: Path):
    text = page_text(smoke_book / "notebooks" / "01_accounting.html")
    # M = 14 at R = 0.16, 0.79, 22: 258x, 63x, 16x (rounded by the glue format)
    for number in ("258", "63", "16"):
        assert f"{number} ×" in text
    html = (smoke_book / "notebooks" / "01_accounting.html").read_text()
    assert 'id="fig-exchange-factor"' in html and html.count("<img") >= 1


def test_bibliography_lists_the_papers(smoke_book: Path):
    text = page_text(smoke_book / "bibliography.html").lower()
    assert "scaling llm test-time compute optimally" in text
    assert "large language monkeys" in text


def test_failing_notebook_names_notebook_and_cell(tmp_path):
    root = copy_project(tmp_path)
    broken = root / "notebooks" / "01_accounting.md"
    broken.write_text(broken.read_text().replace(
        "plots.set_style()", "plots.set_style()\nraise ValueError('deliberately broken')"))
    result = subprocess.run(
        [sys.executable, "-m", "ttc", "book", "--profile", "smoke", "--no-html"],
        env={**os.environ, "TTC_ROOT": str(root)}, capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert "notebook 01_accounting failed in cell" in result.stderr
    assert "ValueError: deliberately broken" in result.stderr
    assert len(result.stderr.splitlines()) < 30


def test_injected_parameters_are_labelled_as_this_builds():
    import nbformat

    from ttc.runner import label_injected_parameters

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("# Parameters (defaults)\nepochs = 2",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("# Parameters\nepochs = 3\nprofile = \"cpu\"\n",
                                  metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("# Parameters\nx = 1")])  # not injected: unchanged
    label_injected_parameters(notebook, "cpu")
    sources = [cell.source for cell in notebook.cells]
    assert sources[0] == "# Parameters (defaults)\nepochs = 2"
    assert sources[1] == ("# Parameters of this build (profile cpu), replacing the defaults "
                          "above\nepochs = 3\nprofile = \"cpu\"\n")
    assert sources[2] == "# Parameters\nx = 1"


def test_smoke_chapters_label_their_injected_parameters(smoke_book: Path):
    text = page_text(smoke_book / "notebooks" / "04_verifiers.html")
    assert "Parameters of this build (profile smoke)" in text


def test_duplicate_scripts_are_dropped():
    from ttc.runner import _dedupe_scripts

    page = (
        '<script>const A = 1</script><script src="x.js?v=1"></script>'
        '<p>body</p><script>const A = 1</script><script defer src="x.js?v=1"></script>'
        '<script>const B = 2</script>'
    )
    text, dropped = _dedupe_scripts(page)
    assert dropped == 2
    assert text == '<script>const A = 1</script><script src="x.js?v=1"></script><p>body</p>' \
        '<script>const B = 2</script>'


def test_chapter_2_shows_the_family(smoke_book: Path):
    html = (smoke_book / "notebooks" / "02_family.html").read_text()
    for figure in ("fig-training-curves", "fig-greedy-heatmap", "fig-greedy-lines"):
        assert f'id="{figure}"' in html
    text = page_text(smoke_book / "notebooks" / "02_family.html")
    assert "80 test problems" in text  # smoke profile: 10 per length, 1..8 operations


def test_chapter_3_shows_sampling(smoke_book: Path):
    html = (smoke_book / "notebooks" / "03_sampling.html").read_text()
    for figure in ("fig-coverage", "fig-coverage-flops", "fig-unsolved", "fig-hard-coverage",
                   "fig-success-rates"):
        assert f'id="{figure}"' in html


def test_chapter_4_shows_verifiers(smoke_book: Path):
    html = (smoke_book / "notebooks" / "04_verifiers.html").read_text()
    for figure in ("fig-mc-labels", "fig-prm-calibration", "fig-best-of-n"):
        assert f'id="{figure}"' in html
    text = page_text(smoke_book / "notebooks" / "04_verifiers.html")
    assert "32 training problems" in text  # smoke profile: 4 per length, 1..8 operations


def test_chapter_5_shows_search(smoke_book: Path):
    html = (smoke_book / "notebooks" / "05_search.html").read_text()
    for figure in ("fig-search-budget", "fig-search-flops"):
        assert f'id="{figure}"' in html
    text = page_text(smoke_book / "notebooks" / "05_search.html")
    assert "budgets of 4, 16 generations" in text  # smoke profile


def test_chapter_6_shows_revisions(smoke_book: Path):
    html = (smoke_book / "notebooks" / "06_revisions.html").read_text()
    for figure in ("fig-revision-attempts", "fig-revision-splits"):
        assert f'id="{figure}"' in html
    text = page_text(smoke_book / "notebooks" / "06_revisions.html")
    assert "8 test problems of chapter 5" in text  # smoke profile: 1 per length


def test_chapter_7_shows_the_exchange(smoke_book: Path):
    html = (smoke_book / "notebooks" / "07_compute_optimal.html").read_text()
    for figure in ("fig-bin-agreement", "fig-compute-optimal", "fig-exchange",
                   "fig-exchange-sweep"):
        assert f'id="{figure}"' in html


def test_chapter_7_prose_states_what_the_tables_show(smoke_book: Path, monkeypatch):
    """Every headline claim on the page is the sentence its predicate picks from the tables
    the build published (loaded from the results store, not recomputed)."""
    from ttc.claims import COMPUTE_OPTIMAL_CLAIMS
    from ttc.pipeline import chapter_result

    monkeypatch.setenv("TTC_ROOT", str(smoke_book.parents[2]))
    tables = chapter_result("07_compute_optimal", "smoke").tables
    text = page_text(smoke_book / "notebooks" / "07_compute_optimal.html")
    for claim in COMPUTE_OPTIMAL_CLAIMS:
        assert claim.text(tables) in text, claim.key
        other = claim.fails_text if claim.holds(tables) else claim.holds_text
        assert other not in text, claim.key


def test_chapter_8_and_conclusions(smoke_book: Path, monkeypatch):
    from ttc.claims import FLOOR_CLAIMS
    from ttc.pipeline import chapter_result

    html = (smoke_book / "notebooks" / "08_floor.html").read_text()
    for figure in ("fig-floor-unsolved", "fig-tradeoff"):
        assert f'id="{figure}"' in html
    monkeypatch.setenv("TTC_ROOT", str(smoke_book.parents[2]))
    tables = chapter_result("08_floor", "smoke").tables
    text = page_text(smoke_book / "notebooks" / "08_floor.html")
    for claim in FLOOR_CLAIMS:
        assert claim.text(tables) in text, claim.key
    conclusions = page_text(smoke_book / "conclusions.html")
    # numbers glued across documents reached the page (no raw role text left behind)
    assert "glue:text" not in conclusions and "::" not in conclusions
    vote_claim = next(c for c in FLOOR_CLAIMS if c.key == "claim_vote_no_exchange")
    assert vote_claim.text(tables) in conclusions


def test_site_root_has_a_favicon(smoke_book: Path):
    """Browsers ask for /favicon.ico on the redirect page; a 404 there is a console error."""
    assert (smoke_book / "favicon.ico").read_bytes() == \
        (smoke_book / "_static" / "favicon.png").read_bytes()


def test_warm_run_computes_nothing(smoke_book: Path, monkeypatch):
    """With the smoke build's results stored, every chapter loads: no chapter's run, no
    trainer, no sampler and no greedy decoding is called."""
    import dataclasses

    from ttc import chapters, pipeline, sampling
    from ttc.family import train

    def forbidden(*args, **kwargs):
        raise AssertionError("a warm run must not compute")

    monkeypatch.setenv("TTC_ROOT", str(smoke_book.parents[2]))
    for key, chapter in list(chapters.CHAPTERS.items()):
        monkeypatch.setitem(chapters.CHAPTERS, key, dataclasses.replace(chapter, run=forbidden))
    monkeypatch.setattr(train, "train_member", forbidden)
    monkeypatch.setattr(sampling, "generate", forbidden)
    monkeypatch.setattr(sampling, "draw_samples", forbidden)
    for key in chapters.CHAPTERS:
        result = pipeline.chapter_result(key, "smoke")
        assert result.tables and result.facts, key


def test_warm_book_executes_no_notebook(smoke_book: Path):
    """A second build with nothing changed finds every executed copy current."""
    env = {**os.environ, "TTC_ROOT": str(smoke_book.parents[2])}
    result = subprocess.run([sys.executable, "-m", "ttc", "book", "--profile", "smoke",
                             "--no-html"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("executed copy is current") == len(CHAPTERS), result.stdout
