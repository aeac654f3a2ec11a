"""Launch the maskface Gradio app (locally or as a Hugging Face Space): `python app.py --help`."""

import logging
import signal

from maskface.config import set_third_party_defaults

set_third_party_defaults()  # before TensorFlow, onnxruntime and Gradio load: quiet, and nothing sent about users

from maskface.app import Services, build_app, launch, parse_args  # noqa: E402

settings = parse_args()
services = Services(settings)
demo = build_app(settings, services)


def stop(signum, frame):
    """SIGTERM (a Space stopping or restarting): leave the serving loop as Ctrl-C does, then clean up below."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP call otherwise
    signal.signal(signal.SIGTERM, stop)
    try:
        launch(demo, settings, services)
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
        services.close()  # pushes the labels still pending to the Hub (when synced), for at most 20 s
        logging.getLogger("maskface.app").info("stopped")
