"""``python -m bench`` (``make bench``): accuracy, speed, cold start and memory of the shipped models, in one report.

Writes ``bench/results/{accuracy,gender,identity,speed,memory}.json`` and renders
``BENCHMARKS.md`` from every results file present, so a partial run
(``--only speed``) refreshes its own section and keeps the others.

    python -m bench                       # everything (10-20 minutes on 2 CPUs)
    python -m bench --only speed --quick  # a smoke run of one part

Each measurement also runs alone, with its own options and JSON output
(``python -m bench NAME --help``): the parts ``accuracy``, ``gender``, ``identity``,
``speed`` and ``memory``, and ``detection``, ``mask-accuracy``, ``masksim-check``,
``contact-sheet``. (``bench/dlib_baseline.py`` needs dlib: a script for its own
environment.)
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from . import report  # noqa: E402
from .photos import DEFAULT_DATA  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

log = logging.getLogger("bench")


def _run_part(part: str, quick: bool, data: Path) -> dict:
    if part == "accuracy":
        from . import accuracy

        return accuracy.run(quick, data)
    if part == "gender":
        from . import gender

        return gender.run(quick, data)
    if part == "identity":
        from . import identity

        return identity.run(quick, data)
    if part == "speed":
        from . import speed

        return speed.run(quick, data)
    from . import memory

    return memory.run(data)


#: The measurements that run alone (``python -m bench NAME ...``), by name: their modules.
MEASUREMENTS = {
    "accuracy": "accuracy",
    "gender": "gender",
    "identity": "identity",
    "speed": "speed",
    "memory": "memory",
    "detection": "detection",
    "mask-accuracy": "mask_accuracy",
    "masksim-check": "masksim_check",
    "contact-sheet": "contact_sheet",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in MEASUREMENTS:
        return importlib.import_module(f".{MEASUREMENTS[argv[0]]}", __package__).main(argv[1:]) or 0
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n\n")[0],
        epilog=f"single measurements: python -m bench {{{','.join(MEASUREMENTS)}}} --help",
    )
    parser.add_argument("--only", action="append", choices=report.PARTS, help="run this part (repeatable; default: all)")
    parser.add_argument("--quick", action="store_true", help="a fast partial measurement (MASK only, fewer repeats)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (mask/, lfw/)")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results", help="folder of the JSON results")
    parser.add_argument("--markdown", type=Path, default=REPO / "BENCHMARKS.md", help="the page to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.results.mkdir(parents=True, exist_ok=True)
    for part in args.only or report.PARTS:
        start = time.perf_counter()
        log.info("running %s", part)
        result = _run_part(part, args.quick, args.data) | {"seconds": round(time.perf_counter() - start, 1)}
        (args.results / f"{part}.json").write_text(json.dumps(result, indent=1) + "\n")
        log.info("%s done in %.0f s", part, result["seconds"])
    args.markdown.write_text(report.render(report.load_results(args.results)))
    log.info("wrote %s", args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
