"""The Progress tab: labeling progress at a glance, for the operator and the Space's admins.

Plots and tables of :func:`maskface.progress.progress` (the same figures as
``maskface labels progress``): labels per day and task, agreement over time,
per-labeler counts and agreement, and the served model's confusion against
the agreed labels. Labelers appear by their labeler id (a hash for signed-in
users), never by a name they typed.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..progress import progress
from .access import Refused, visitor
from .common import page_and_api, plain, user_errors
from .services import Services


class ProgressTab:
    """Handler (also the API ``progress``) and layout of the Progress tab."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def report(self, profile: gr.OAuthProfile | None) -> tuple:
        """Summary, labels per day, agreement over time, per-labeler table, confusion table."""
        with user_errors("progress"):
            if not visitor(self.services.settings, profile).manages_shared:
                raise Refused("The Progress view is for this Space's admins.")
            figures = progress(self.services.labels.records())
        return (
            summary(figures.to_dict(), self.services.settings.labelers_per_face),
            pd.DataFrame(figures.per_day, columns=["day", "task", "labels"]),
            pd.DataFrame(
                [row for row in figures.agreement_over_time if row["percent_agreement"] is not None],
                columns=["day", "task", "percent_agreement", "fleiss_kappa"],
            ),
            pd.DataFrame(figures.per_labeler, columns=["labeler", "task", "labels", "agreement"]),
            pd.DataFrame(confusion_rows(figures.confusion), columns=["task", "agreed label", "model said", "faces"]),
        )

    def build(self) -> None:
        with gr.Tab("Progress", id="tab-progress", elem_id="tab-progress"):
            gr.Markdown("Labeling progress, agreement between labelers and how the served model fares against them.")
            refresh = gr.Button("Refresh", variant="primary", elem_id="progress-run")
            text = gr.Markdown(elem_id="progress-summary")
            with gr.Row():
                per_day = gr.BarPlot(x="day", y="labels", color="task", title="Labels per day", elem_id="progress-days")
                over_time = gr.LinePlot(
                    x="day", y="percent_agreement", color="task", title="Agreement (cumulative)", y_lim=[0, 1],
                    elem_id="progress-agreement",
                )
            labelers = gr.Dataframe(label="Per labeler", interactive=False, elem_id="progress-labelers")
            confusion = gr.Dataframe(label="Served model vs agreed labels", interactive=False, elem_id="progress-confusion")
            page_and_api(plain, refresh.click, self.report, [], [text, per_day, over_time, labelers, confusion], api_name="progress")


def summary(report: dict, labelers_per_face: int) -> str:
    """One line per task: labels, faces, agreement; and what a single labeler means for agreement."""
    lines = [f"Each face of the shared folder is offered to **{labelers_per_face}** labeler(s)."]
    for task, figures in report["per_task"].items():
        if figures["percent_agreement"] is None:
            agreement = "no face has two labels yet, so there is no agreement to measure"
        else:
            kappa = figures["fleiss_kappa"]
            agreement = f"percent agreement {figures['percent_agreement']:.1%}" + (
                f", Fleiss' kappa {kappa:.2f}" if kappa is not None else ""
            ) + f" over {figures['items_with_several_labels']} faces, {len(figures['disagreements'])} disputed"
        lines.append(f"- **{task}**: {figures['labels']} labels of {figures['items']} faces; {agreement}.")
    if len(report["per_task"]) == 0:
        lines.append("No labels yet.")
    if len({row["labeler"] for row in report["per_labeler"]}) == 1:
        lines.append("One labeler so far (run locally, the operator is one labeler): agreement needs two.")
    return "\n".join(lines)


def confusion_rows(confusion: dict) -> list[list]:
    """The confusion matrices as rows (task, agreed label, model's suggestion, faces)."""
    return [
        [task, truth, guess, count]
        for task, matrix in confusion.items()
        for truth, row in zip(matrix["labels"], matrix["matrix"])
        for guess, count in zip(matrix["labels"], row)
    ]
