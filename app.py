"""Launch the maskface Gradio app (locally or as a Hugging Face Space): `python app.py --help`."""

from maskface.config import set_third_party_defaults

set_third_party_defaults()  # before TensorFlow, onnxruntime and Gradio load: quiet, and nothing sent about users

from maskface.app import build_app, launch, parse_args  # noqa: E402

settings = parse_args()
demo = build_app(settings)

if __name__ == "__main__":
    launch(demo, settings)
