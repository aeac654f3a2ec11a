"""``BENCHMARKS.md`` rendered from the JSON results of :mod:`bench.accuracy`, :mod:`bench.identity`,
:mod:`bench.speed` and :mod:`bench.memory`.

Each part writes its own JSON file, and the page is rendered from whichever
files exist, so running one part (``python -m bench --only speed``) updates
its section and keeps the others.
"""

from __future__ import annotations

import json
from pathlib import Path

PARTS = ("accuracy", "gender", "identity", "speed", "memory")
COLD_START_TARGET_S = 20
MEMORY_TARGET_MB = 2048
SPEED_TARGET_RATIO = 0.5
#: A new identity model may make the one-face full analysis at most this much slower (issue 16).
IDENTITY_COST_TARGET = 1.5


def load_results(folder: Path) -> dict[str, dict]:
    return {part: json.loads((folder / f"{part}.json").read_text()) for part in PARTS if (folder / f"{part}.json").is_file()}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(map(str, r)) + " |" for r in rows)]


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def gender_section(gender: dict) -> list[str]:
    """GENDER-M and GENDER-R tables (``bench.gender``'s results)."""
    lines = []
    if "GENDER-M" in gender:
        lines += ["", "### GENDER-M (LFW `split=test`, balanced accuracy; each face with a simulated mask, and bare)", ""]
        lines += _table(
            ["model", "masked", "bare", "ROC AUC masked / bare", "faces"],
            [
                [f"`{m}`", _pct(r["masked"]["balanced_accuracy"]), _pct(r["unmasked"]["balanced_accuracy"]),
                 f"{r['masked']['roc_auc']:.4f} / {r['unmasked']['roc_auc']:.4f}", r["masked"]["n"]]
                for m, r in gender["GENDER-M"].items()
            ],
        )
    if "GENDER-R" in gender:
        lines += ["", "### GENDER-R (real masked faces of `mask/test` labelled by people, `data/labels/gender-real`; "
                  "each photo through `predict`'s detector)", ""]
        rows = []
        for m, r in gender["GENDER-R"].items():
            raw = r.get("uncalibrated", r)
            rows.append([
                f"`{m}`",
                *(f"{_pct(raw[c]['balanced_accuracy'])} -> {_pct(r[c]['balanced_accuracy'])}" for c in ("masked", "bare")),
                *(f"{r[c]['roc_auc']:.4f}" for c in ("masked", "bare")),
                *(f"{raw[c]['ece']:.3f} -> {r[c]['ece']:.3f}" for c in ("masked", "bare")),
                calibration_words(r.get("calibration", {})),
                f"{r['masked']['n']} / {r['bare']['n']}",
            ])
        lines += _table(
            ["model", "masked (raw -> shipped)", "bare (raw -> shipped)", "ROC AUC masked", "ROC AUC bare",
             "ECE masked (raw -> shipped)", "ECE bare (raw -> shipped)", "calibration", "faces masked / bare"],
            rows,
        )
        lines += ["", "Balanced accuracy (mean of female and male recall) and ECE (expected calibration error, 15 "
                  "bins) of the raw softmax and of the shipped calibrated confidence (temperature T and an offset "
                  "on the female logit, fitted on GENDER-R validation; `maskface/calibration.py`)."]
    if gender.get("quick"):
        lines += ["", "_Quick run: GENDER-M not measured._"]
    return lines


def calibration_words(calibration: dict) -> str:
    """``T 0.878, female +2.33``: a gender model's calibration in a table cell (labels are female, male)."""
    words = f"T {calibration.get('temperature', 1.0)}"
    bias = calibration.get("bias")
    return words + (f", female {bias[0] - bias[1]:+.2f}" if bias else "")


def accuracy_section(acc: dict, gender: dict | None = None) -> list[str]:
    lines = ["## Accuracy", ""]
    lines += ["### MASK (`mask/test`, through `python -m maskface predict --assume-face`)", ""]
    lines += _table(
        ["model", "accuracy", "ROC AUC", "confusion (rows: with, without)", "images"],
        [[f"`{m}`", _pct(r["accuracy"]), f"{r['roc_auc']:.4f}", r["confusion_matrix"], r["n"]] for m, r in acc["MASK"].items()],
    )
    lines += gender_section(gender or {})
    lines += [f"\n_Note: {note}._" for note in acc.get("notes", [])]
    return lines


def identity_section(ident: dict) -> list[str]:
    """ID-M and ID-M-1: each shipped identity model, then the stored baselines."""
    lines = ["## Recognition", "", "Open-set identification of the 84 LFW `split=test` people with at least 4 photos "
             "(no model trained on them); their 639 other photos are probes, once with a simulated mask and once bare. "
             "Enrolment as in the product: each enrolment photo bare plus two simulated-mask copies (ours; the "
             "baselines enrol the bare photos only); masked and bare faces told apart by the shipped mask model. "
             "`python -m bench identity`."]
    models = [*((f"`{m}`", r) for m, r in ident["ID-M"].items()), *ident.get("ID-M baselines", {}).items()]
    header = ["model", "rank-1 masked", "rank-1 bare", "TAR@FAR 1% masked", "TAR@FAR 1% bare",
              "TAR@FAR 0.1% masked", "TAR@FAR 0.1% bare"]
    for title, pick in (("ID-M: enrolled from their first 2 photos", lambda r: r),
                        ("ID-M-1: enrolled from their first photo only", lambda r: r.get("one_photo"))):
        rows = []
        for name, r in models:
            figures = pick(r)
            rows.append([name] + [
                _pct(figures[c][k]) if figures else "-"
                for k in ("rank1", "tar_at_far_1.0%", "tar_at_far_0.1%") for c in ("masked", "unmasked")
            ])
        lines += ["", f"### {title}", ""] + _table(header, rows)
    thresholds = [f"`{m}`: {r['unknown_threshold']['bare']:.4f} bare, {r['unknown_threshold']['masked']:.4f} masked"
                  for m, r in ident["ID-M"].items() if isinstance(r.get("unknown_threshold"), dict)]
    if thresholds:
        lines += ["", "Thresholds at FAR 1% (ID-M, over both conditions' probes, by the mask model's call), the "
                  "ones new galleries start with: " + "; ".join(thresholds) + "."]
    lines += ["", "Baselines are read from their stored results (dlib needs an environment of its own; "
              "see `bench/dlib_baseline.py`)."]
    lines += [f"\n_Note: {note}._" for note in ident.get("notes", [])]
    return lines


def speed_section(speed: dict) -> list[str]:
    lat = speed["latency"]
    counts = list(lat)
    tasks = " + ".join(["detect", *speed["tasks"]])
    machine = speed["machine"]
    lines = [
        "## Speed (640x480 photos composed from real faces; medians after warm-up)",
        "",
        f"Full analysis = decode JPEG + {tasks}, `Analyzer.analyze` on the photo's bytes, "
        f"detector `{speed['detector']}`, classifiers on {'TFLite' if speed['tflite'] else 'tf.function'}. "
        "MTCNN alone is the `mtcnn` package at its defaults (`--detector mtcnn-default`), "
        "on the same decoded photos, in the same run. "
        f"{machine['cpus']} CPUs; load average {machine['load_average_before'][0]:.2f} before, "
        f"{machine['load_average_after'][0]:.2f} after (other work on the machine inflates every figure)."
        + ("" if speed["identity_model"] else " No identity model is shipped yet, so identity is not part of the analysis."),
        "",
    ]
    rows = [
        ["full analysis, ms", *(lat[c]["full_analysis_ms"] for c in counts)],
        *(
            [[f"full analysis with `{speed['reference_identity_model']}` instead (gender without its head), ms",
              *(lat[c]["full_analysis_reference_identity_ms"] for c in counts)],
             ["full analysis / with the reference identity model",
              *(f"{lat[c]['full_analysis_ms'] / lat[c]['full_analysis_reference_identity_ms']:.2f}" for c in counts)]]
            if speed.get("reference_identity_model") else []
        ),
        [f"detector alone (`{speed['detector']}`), ms", *(lat[c]["detector_ms"] for c in counts)],
        ["MTCNN at defaults alone, ms", *(lat[c]["mtcnn_default_ms"] for c in counts)],
        ["full analysis / MTCNN alone", *(f"{lat[c]['full_analysis_ms'] / lat[c]['mtcnn_default_ms']:.2f}" for c in counts)],
        ["models' share per face (crops + models), ms", *(lat[c]["models_ms_per_face"] for c in counts)],
    ]
    lines += _table(["", *counts], rows)
    ratio = speed["full_over_mtcnn_default_1_face"]
    lines += ["", f"Target: one-face full analysis at most {SPEED_TARGET_RATIO:.0%} of MTCNN alone: "
              f"{ratio:.2f}, {_met(ratio <= SPEED_TARGET_RATIO)}."]
    if speed.get("reference_identity_model"):
        one = lat[counts[0]]
        cost = one["full_analysis_ms"] / one["full_analysis_reference_identity_ms"]
        lines += [f"Target: one-face full analysis at most {IDENTITY_COST_TARGET}x the time with "
                  f"`{speed['reference_identity_model']}`: {cost:.2f}x, {_met(cost <= IDENTITY_COST_TARGET)}."]
    lines += [""]
    stages = list(lat[counts[0]]["stages_ms"])
    lines += ["Where the time goes (each stage timed alone, ms):", ""]
    lines += _table(["stage", *counts], [[s, *(lat[c]["stages_ms"].get(s, "-") for c in counts)] for s in stages])
    lines += ["", "Each model's forward pass by runtime (ms) and its largest output difference from Keras:", ""]
    rows = []
    for task, r in speed["backends"].items():
        for key, b in r.items():
            if isinstance(b, dict):
                diff = max(b["max_abs_diff_tf_function"], b["max_abs_diff_tflite"])
                tflite = b["tflite_ms"] if r["tflite"] else "-"
                rows.append([task, f"`{r['model']}`", key, b["eager_ms"], b["tf_function_ms"], tflite, f"{diff:.1e}"])
    lines += _table(["task", "model", "batch", "eager Keras", "tf.function", "TFLite", "max abs diff"], rows)
    t = speed["throughput"]
    lines += ["", f"Throughput: **{t['images_per_second']} images/s** over a folder of {t['images']} JPEG photos "
              f"(half 1-face, half 5-face; {t['faces_found']} faces found, {t['errors']} errors) with `analyze_many`."]
    if speed["settings"]["quick"]:
        lines += ["", "_Quick run: fewer repeats and photos._"]
    return lines


def memory_section(memory: dict) -> list[str]:
    rows = []
    for name, r in memory["cold_start"].items():
        ok = r["launch_to_answer_s"] < COLD_START_TARGET_S and r["peak_rss_mb"] < MEMORY_TARGET_MB
        rows.append([name, r.get("launch_to_listening_s", "-"), r["launch_to_answer_s"], r.get("cpu_s_to_answer", "-"),
                     f"{r['peak_rss_mb']:.0f}", _met(ok)])
    lines = ["## Cold start and memory", "",
             "A fresh process, from launch to its first answer on a one-face photo. `analyzer`: import maskface, "
             "`Analyzer()`, `analyze`; peak RSS over the whole process life. `app`: `python app.py`, first answer of "
             "its `/mask` API through `gradio_client`; peak RSS when it answers. \"Empty cache\" is the first start on "
             "a machine: answers come from `tf.function` while the TFLite conversions run in the background. "
             "CPU seconds (user + system, all threads, until the answer) are what to compare versions by on a shared "
             "machine, where other work stretches the wall-clock figures.", ""]
    lines += _table(["process", "launch to listening, s", "launch to first answer, s", "CPU to first answer, s",
                     "peak RSS, MB", f"target < {COLD_START_TARGET_S} s, < 2 GB"], rows)
    load = memory.get("machine", {}).get("load_average")
    if load:
        lines += ["", f"{memory['machine']['cpus']} CPUs; load average {load[0]:.2f} when the measurement began."]
    return lines


def render(results: dict[str, dict]) -> str:
    files = ",".join(results)
    lines = ["# Benchmarks", "", f"Generated by `python -m bench` (`make bench`) from `bench/results/{{{files}}}.json`; "
             "the protocols are those of `../shared/data/README.md`. `python -m bench --only PART` refreshes one section.", ""]
    if "accuracy" in results:
        lines += accuracy_section(results["accuracy"], results.get("gender")) + [""]
    for part, section in (("identity", identity_section), ("speed", speed_section), ("memory", memory_section)):
        if part in results:
            lines += section(results[part]) + [""]
    return "\n".join(lines)


def part_main(
    doc: str, run, default_out: Path, default_data: Path, quick_help: str | None, argv: list[str] | None,
    options: dict[str, str] | None = None,
) -> int:
    """The command line of one bench part: run it, write its JSON to ``--out``, print it.

    ``run(data)`` or, when ``quick_help`` is given, ``run(quick, data)``; ``options`` (name: help) are more
    text flags, passed to ``run`` by name.
    """
    import argparse
    import logging

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if quick_help:
        parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--out", type=Path, default=default_out)
    for name, text in (options or {}).items():
        parser.add_argument(f"--{name.replace('_', '-')}", help=text)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    given = {name: getattr(args, name) for name in options or {}}
    report = run(args.quick, args.data, **given) if quick_help else run(args.data, **given)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0
