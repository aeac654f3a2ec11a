"""A labelling process for the concurrency and crash tests: ``label_writer.py FOLDER LABELER_ID COUNT``.

Adds COUNT labels (COUNT 0: until killed) and prints each acknowledged record
id on its own line, flushed, once :meth:`LabelStore.add` has returned.
The ``maskface`` package's ``__init__`` loads TensorFlow (about 9 s here);
the store needs none of it, so the package is registered bare and only
``maskface.labels`` and what it imports are loaded.
"""

import itertools
import sys
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
package = types.ModuleType("maskface")
package.__path__ = [str(ROOT / "maskface")]
sys.modules["maskface"] = package

from maskface.labels import LabelStore  # noqa: E402


def main(folder: str, labeler_id: str, count: int) -> None:
    store = LabelStore(folder)
    rng = np.random.default_rng(int(labeler_id[:8], 16))
    for i in itertools.count() if count == 0 else range(count):
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        task, label = ("mask", "with_mask") if i % 2 else ("gender", "unsure")
        record_id = store.add(pixels, task, label, labeler_id=labeler_id, consent=True, labeler_name=f"writer {i}")
        print(record_id, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
