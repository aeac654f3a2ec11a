"""The Progress tab through its API: the figures of `maskface labels progress`, for the operator."""

from __future__ import annotations

from maskface.labels import new_labeler_id
from maskface.progress import progress


def test_the_operator_sees_the_same_figures_as_the_cli(served):
    import numpy as np

    me = new_labeler_id()
    served.services.labels.add(np.full((32, 32, 3), 90, np.uint8), "mask", "with_mask", labeler_id=me, consent=True)
    client = served.client()  # a session of its own
    text, per_day, over_time, labelers, confusion = client.predict(api_name="/progress")
    expected = progress(served.services.labels.records()).to_dict()
    assert "**mask**" in text and f"{expected['per_task']['mask']['labels']} labels" in text
    days = {(row[0], row[1]): row[2] for row in per_day["data"]}
    assert days == {(row["day"], row["task"]): row["labels"] for row in expected["per_day"]}
    assert {row[0] for row in labelers["data"]} >= {me}
    assert confusion["headers"] == ["task", "agreed label", "model said", "faces"]


def test_on_a_space_only_admins_see_progress(served):
    import dataclasses
    from types import SimpleNamespace

    import gradio as gr
    import pytest

    from maskface.app.progress_tab import ProgressTab

    settings = dataclasses.replace(served.services.settings, space_id="org/maskface", admins=("ada",))
    tab = ProgressTab(SimpleNamespace(settings=settings, labels=served.services.labels))
    for profile in (None, SimpleNamespace(username="mallory")):
        with pytest.raises(gr.Error, match="for this Space's admins"):
            tab.report(profile)
    assert "**" in tab.report(SimpleNamespace(username="Ada"))[0]
