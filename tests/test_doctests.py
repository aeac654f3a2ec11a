"""The examples in the package's docstrings run, from the repository root (they use ``examples/`` photos)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import maskface

PACKAGE = Path(maskface.__file__).parent
ROOT = PACKAGE.parent
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py")
    if path.name != "__main__.py"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False)
    assert result.failed == 0, capsys.readouterr().out
