"""Launch the maskface Gradio app (locally or as a Hugging Face Space): `python app.py --help`."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # works offline, and sends nothing about users

from maskface.app import build_app, launch, parse_args  # noqa: E402

settings = parse_args()
demo = build_app(settings)

if __name__ == "__main__":
    launch(demo, settings)
