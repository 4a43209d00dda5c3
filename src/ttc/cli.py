"""Command line: run one chapter's experiment headless, or execute and build the book.

    ttc run 02_family --profile cpu --set train_steps=100 --out results/
    ttc book --profile smoke
    ttc check-profile gpu

``ttc run`` needs no papermill or Jupyter (e.g. on a GPU image): it loads or computes the
chapter's published result through the same pipeline as the notebook (earlier chapters
under the same profile first) and writes each result table to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

from ttc.config import ConfigError


def _parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def _cmd_run(args: argparse.Namespace) -> int:
    from ttc.cache import write_frame
    from ttc.chapters import get_chapter
    from ttc.pipeline import chapter_result
    from ttc.profiles import chapter_config

    chapter = get_chapter(args.chapter)
    overrides = _parse_overrides(args.set)
    config = chapter_config(args.profile, chapter.key, overrides)
    print(f"[ttc] {chapter.key} with profile {args.profile}: {config}", flush=True)
    start = time.perf_counter()
    result = chapter_result(chapter.key, args.profile, config=config, progress=True,
                            recompute=args.recompute)
    out = Path(args.out or Path("results") / Path(str(args.profile)).stem / chapter.key)
    for name, frame in result.tables.items():
        path = write_frame(frame, out / f"{name}.{args.format}")
        print(f"[ttc]   wrote {path} ({len(frame)} rows)")
    print(f"[ttc] done in {time.perf_counter() - start:.1f} s")
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from ttc.runner import build_book, execute_all

    if args.no_html:
        execute_all(args.profile, args.only or None, force=args.force)
        return 0
    index = build_book(args.profile, strict=not args.no_strict, only=args.only or None,
                       force=args.force)
    print(f"[ttc] book built: {index}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    """Every chapter: the chapters it reads, and its parameters with their defaults."""
    from ttc.chapters import CHAPTERS

    for chapter in CHAPTERS.values():
        reads = ", ".join(chapter.reads) or "nothing"
        print(f"{chapter.key}  {chapter.title}  (reads {reads})")
        for name, default in chapter.defaults().items():
            print(f"    {name} = {default!r}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from ttc.profiles import available_profiles, load_profile

    for name in args.profiles or available_profiles():
        load_profile(name)
        print(f"[ttc] profile {name}: ok")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ttc import __version__

    parser = argparse.ArgumentParser(prog="ttc", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"ttc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one chapter's experiment and save its tables")
    run.add_argument("chapter", help="notebook name (01_accounting), short name or number")
    run.add_argument("--profile", default="cpu", help="profile name or YAML path (default cpu)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override one parameter (YAML value), repeatable")
    run.add_argument("--out", help="output folder (default results/PROFILE/CHAPTER)")
    run.add_argument("--format", choices=("csv", "parquet"), default="csv")
    run.add_argument("--recompute", action="store_true",
                     help="discard this chapter's stored result and compute it again")
    run.set_defaults(func=_cmd_run)

    book = sub.add_parser("book", help="execute every notebook and build the HTML book")
    book.add_argument("--profile", default="cpu")
    book.add_argument("--no-html", action="store_true", help="only execute the notebooks")
    book.add_argument("--only", nargs="*", help="execute these chapters only")
    book.add_argument("--force", action="store_true",
                      help="execute notebooks even where the executed copy is current")
    book.add_argument("--no-strict", action="store_true", help="do not treat warnings as errors")
    book.set_defaults(func=_cmd_book)

    # `ttc student`: the student edition, all of it in ttc.student
    from ttc.student import cli_command as student_command

    student = sub.add_parser("student", help="write the notebooks without exercise solutions "
                             "(student/notebooks/) and build the student book (student/book/)")
    student.add_argument("--profile", default="cpu")
    student.add_argument("--no-html", action="store_true",
                         help="only write and execute the student notebooks")
    student.add_argument("--force", action="store_true",
                         help="execute notebooks even where the executed copy is current")
    student.add_argument("--no-strict", action="store_true",
                         help="do not treat warnings as errors")
    student.set_defaults(func=student_command)

    listing = sub.add_parser("list", help="list the chapters, what each reads, and their "
                             "parameters with defaults")
    listing.set_defaults(func=_cmd_list)

    check = sub.add_parser("check-profile", help="validate profiles (default: all)")
    check.add_argument("profiles", nargs="*")
    check.set_defaults(func=_cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"ttc: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: not an error
        return 0
    except Exception as err:  # a failing notebook or build: one clear message, no kernel noise
        from ttc.runner import NotebookFailed

        if isinstance(err, (NotebookFailed, RuntimeError)):
            print(f"ttc: error: {err}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
