"""Command line: run one chapter's experiment headless, or execute and build the book.

    ttc run 02_family --profile cpu --set train_steps=100 --out results/
    ttc book --profile smoke
    ttc check-profile gpu
    ttc sample --profile cpu --shard 0/4          # one worker's share of chapter 3's samples
    ttc sample --profile cpu --ray 4              # all shards as Ray tasks
    ttc gpu-check results/gpu-check               # the gpu profile's training and sampling, timed
    ttc cache export --profile workshop -o ttc-cache-workshop.tar.gz
    ttc cache import ttc-cache-workshop.tar.gz

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


def _cmd_sample(args: argparse.Namespace) -> int:
    """Chapter 3's samples under a profile: all of them, one worker's shards, or a Ray
    fan-out of every worker."""
    from ttc.sampling import Shard
    from ttc.shards import fan_out, sample_profile

    overrides = _parse_overrides(args.set)
    start = time.perf_counter()
    if args.ray:
        if args.shard:
            raise ConfigError("give --shard (one worker) or --ray (every worker), not both")
        summary = fan_out(args.profile, args.ray, overrides, address=args.ray_address)
    else:
        shard = Shard.parse(args.shard) if args.shard else None
        summary = sample_profile(args.profile, overrides, shard, progress=True)
    for row in summary.itertuples(index=False):
        state = f"merged, {row.rows} rows" if row.merged else "waiting for other shards"
        print(f"[ttc]   {row.model} {row.set}: {state}")
    print(f"[ttc] done in {time.perf_counter() - start:.1f} s")
    return 0


def _cmd_gpu_check(args: argparse.Namespace) -> int:
    from ttc.gpu_check import run_check

    timings = run_check(args.out, size=args.size, base=args.profile)
    for row in timings.itertuples(index=False):
        print(f"[ttc]   {row.stage}: {row.seconds:.1f} s")
    print(f"[ttc] wrote {args.out}")


def _cmd_cache(args: argparse.Namespace) -> int:
    """Export the cache entries of a profile to one archive, or import such an archive."""
    import os

    from ttc.bundle import BundleError, default_archive_name, export_bundle, import_bundle
    from ttc.cache import ENV_VAR, cache_root

    if args.cache:
        os.environ[ENV_VAR] = str(Path(args.cache).expanduser())
    progress = sys.stderr.isatty()
    try:
        if args.action == "export":
            output = args.output or default_archive_name(args.profile)
            done = export_bundle(args.profile, output, progress=progress)
            print(f"[ttc] exported profile {done.profile} from {cache_root()}: "
                  f"{done.artifacts} artifacts, {done.files} files, {done.megabytes:.1f} MB "
                  f"-> {done.path}")
            return 0
        from ttc.results import code_version

        done = import_bundle(args.archive, progress=progress)
    except BundleError as err:
        print(f"ttc: error: {err}", file=sys.stderr)
        return 2
    print(f"[ttc] imported {done.path} (profile {done.profile}) into {cache_root()}: "
          f"{done.files} files, {done.megabytes:.1f} MB verified; {done.added} artifacts "
          f"added, {done.kept} already present")
    if done.current_results is not None:
        from ttc.chapters import CHAPTERS

        print(f"[ttc] profile {done.profile}: {done.current_results} of {len(CHAPTERS)} "
              f"chapters' results match this checkout")
    if done.code_version != code_version():
        print(f"[ttc] note: the archive's results were computed by other code "
              f"({done.code_version}, here {code_version()}); the chapters will be recomputed "
              f"from its checkpoints and samples, without training or sampling")
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

    sample = sub.add_parser("sample", help="draw chapter 3's samples (all, one worker's "
                            "shards, or every worker on Ray)")
    sample.add_argument("--profile", default="cpu", help="profile name or YAML path")
    sample.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one of chapter 3's parameters, repeatable")
    sample.add_argument("--shard", metavar="I/N",
                        help="sample only worker I's shards of N (merged by whichever worker "
                        "writes the last one)")
    sample.add_argument("--ray", type=int, metavar="N",
                        help="run N workers as Ray tasks (the optional extra 'ray')")
    sample.add_argument("--ray-address", help="a running Ray cluster (default: start one here)")
    sample.set_defaults(func=_cmd_sample)

    gpu = sub.add_parser("gpu-check", help="train and sample the gpu profile's family at a "
                         "size for one GPU within minutes; write timings and tables")
    gpu.add_argument("out", help="folder for timings.csv, environment.json and the tables")
    gpu.add_argument("--size", choices=("check", "smoke"), default="check",
                     help="check (one H200, about 8 minutes) or smoke (seconds, any CPU)")
    gpu.add_argument("--profile", default="gpu", help="the profile to start from (default gpu)")
    gpu.set_defaults(func=_cmd_gpu_check)
    cache = sub.add_parser("cache", help="export a profile's cached artifacts to one archive, "
                           "or import one")
    actions = cache.add_subparsers(dest="action", required=True)
    export = actions.add_parser(
        "export", help="write one archive (tar, .tar.gz compressed) of every result and cached "
        "artifact a profile uses, so chapters run without training or sampling")
    export.add_argument("--profile", default="cpu", help="profile name or YAML path "
                        "(default cpu); it must have been built")
    export.add_argument("--output", "-o", help="archive path (default "
                        "ttc-cache-PROFILE.tar.gz; a name ending in .tar is not compressed)")
    imp = actions.add_parser(
        "import", help="verify an archive made by `ttc cache export` and move its artifacts "
        "into the cache (nothing lands unless every file checks out)")
    imp.add_argument("archive")
    for action in (export, imp):
        action.add_argument("--cache", help="cache folder to use instead of $TTC_CACHE "
                            "(default ~/.cache/ttc)")
        action.set_defaults(func=_cmd_cache)
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
