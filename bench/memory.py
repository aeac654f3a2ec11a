"""Cold start and peak memory: a fresh process from launch to its first answer.

* ``analyzer``: ``python -c`` importing maskface, building ``Analyzer()``
  (the shipped mask and gender models) and analysing one 640x480 photo;
  timed from launch to the answer, with the child's own split (import, load,
  first answer) and its peak RSS over its whole life.
* ``app``: ``python app.py`` on a free local port, timed from launch to the
  first answer of its ``/mask`` API through ``gradio_client``; peak RSS
  (``VmHWM``) read when the answer arrives.

Both also give the CPU seconds (user + system, all threads) the process spent
until its first answer: on a shared machine, where other work stretches the
wall-clock figures, this is the one to compare two versions by.

Each runs twice: with the converted models already cached (every start but
the first on a machine) and with an empty cache (the first start: answers
come from ``tf.function`` while TFLite conversions run in the background;
the analyzer's peak RSS then includes the conversions).

    python -m bench memory [--out bench/results/memory.json]
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from .photos import DEFAULT_DATA, FaceSources, compose

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "results" / "memory.json"
APP_TIMEOUT = 180

log = logging.getLogger(__name__)

CHILD = """
import json, os, resource, sys, time
start = time.perf_counter()
from maskface import Analyzer
imported = time.perf_counter()
analyzer = Analyzer()
loaded = time.perf_counter()
faces = analyzer.analyze(sys.argv[1])
answered = time.perf_counter()
from maskface.inference import predictor_for
print(json.dumps({
    "faces": len(faces),
    "import_s": imported - start, "load_s": loaded - imported, "first_answer_s": answered - loaded,
    "backends": {task: predictor_for(s.model).backend for task, s in analyzer.models.items()},
    "rss_at_answer_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "cpu_s_to_answer": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
}), flush=True)
"""


def _env(cache: Path) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    return env | {"MASKFACE_CACHE_DIR": str(cache)}


def analyzer_cold_start(photo: Path, cache: Path) -> dict:
    """Launch-to-answer seconds of a fresh analyzer process, its phases and its lifetime peak RSS."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(photo)], cwd=REPO, env=_env(cache),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = child.stdout.readline()
    to_answer = time.perf_counter() - start
    _, status, usage = os.wait4(child.pid, 0)  # its whole life, background conversions included
    lifetime = time.perf_counter() - start
    if not line or os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the cold-start child failed (status {status})")
    result = json.loads(line)
    return {
        "launch_to_answer_s": round(to_answer, 2),
        "process_lifetime_s": round(lifetime, 2),
        **{k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()},
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def app_cold_start(photo: Path, cache: Path, workdir: Path) -> dict:
    """Launch-to-answer seconds of ``python app.py`` (first ``/mask`` answer) and its peak RSS then."""
    from gradio_client import Client, handle_file

    port = _free_port()
    env = _env(cache) | {
        "GRADIO_SERVER_PORT": str(port),
        "MASKFACE_LABELS_DIR": str(workdir / "labels"),
        "MASKFACE_GALLERY": str(workdir / "gallery"),
    }
    start = time.perf_counter()
    app = subprocess.Popen(
        [sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        while not _listening(port):
            if app.poll() is not None:
                raise RuntimeError(f"the app exited with {app.returncode} before answering")
            if time.perf_counter() - start > APP_TIMEOUT:
                raise RuntimeError(f"the app did not listen within {APP_TIMEOUT} s")
            time.sleep(0.1)
        up = time.perf_counter() - start
        Client(url, verbose=False).predict(handle_file(str(photo)), api_name="/mask")
        answered = time.perf_counter() - start
        return {
            "launch_to_listening_s": round(up, 2),
            "launch_to_answer_s": round(answered, 2),
            "cpu_s_to_answer": round(_cpu_s(app.pid), 2),
            "peak_rss_mb": round(_vm_hwm_mb(app.pid), 1),
        }
    finally:
        app.terminate()
        app.wait(30)


def run(data: Path = DEFAULT_DATA) -> dict:
    """Cold starts of the analyzer and of the app, with and without cached conversions."""
    with tempfile.TemporaryDirectory(prefix="maskface-cold-") as tmp:
        work = Path(tmp)
        photo = work / "photo.jpg"
        Image.fromarray(compose(1, 0, FaceSources(data))).save(photo, quality=90)
        empty, filled = work / "empty-cache", work / "cache"
        results = {}
        # The first run fills ``filled`` (the child exits only once its conversions are written).
        for what, cache, label in (
            ("analyzer", filled, "empty cache"),
            ("analyzer", filled, "cached conversions"),
            ("app", empty, "empty cache"),
            ("app", filled, "cached conversions"),
        ):
            log.info("%s cold start, %s", what, label)
            if what == "analyzer":
                results[f"{what}, {label}"] = analyzer_cold_start(photo, cache)
            else:
                results[f"{what}, {label}"] = app_cold_start(photo, cache, work / f"app-{label.replace(' ', '-')}")
    return {"machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()}, "cold_start": results}


def main(argv: list[str] | None = None) -> int:
    from .report import part_main

    return part_main(__doc__, run, DEFAULT_OUT, DEFAULT_DATA, None, argv)
