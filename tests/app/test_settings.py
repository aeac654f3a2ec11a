"""App settings: environment variables, overridden by app.py flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from maskface.app.settings import Settings, parse_args


def test_defaults_serve_the_shipped_models_locally():
    settings = Settings.from_env({})
    assert settings.mask_model == ("mask-mobilenetv2", "mask-cnn")
    assert settings.gender_model == ("gender-mobilenetv2", "gender-cnn")
    assert settings.identity_model == "identity-dlib-resnet"
    assert (settings.gallery, settings.labels_dir) == (Path("gallery"), Path("labels"))
    assert (settings.host, settings.port) == ("127.0.0.1", 7860)


def test_environment_variables():
    settings = Settings.from_env(
        {
            "MASKFACE_MASK_MODEL": "hf://org/mask@v2, mask-cnn",
            "MASKFACE_GENDER_MODEL": "gender-cnn",
            "MASKFACE_GALLERY": "/srv/people",
            "MASKFACE_CONCURRENCY": "4",
            "GRADIO_SERVER_PORT": "8080",
            "MASKFACE_DETECTOR": "",  # empty keeps the default
        }
    )
    assert settings.mask_model == ("hf://org/mask@v2", "mask-cnn")
    assert settings.gender_model == ("gender-cnn",)
    assert settings.gallery == Path("/srv/people")
    assert (settings.concurrency, settings.port, settings.detector) == (4, 8080, "auto")


def test_flags_override_the_environment():
    env = {"MASKFACE_MASK_MODEL": "mask-cnn", "GRADIO_SERVER_NAME": "0.0.0.0"}
    settings = parse_args(["--mask-model", "a,b", "--port", "9000", "--labels-dir", "/tmp/l"], env)
    assert settings.mask_model == ("a", "b")
    assert (settings.host, settings.port, settings.labels_dir) == ("0.0.0.0", 9000, Path("/tmp/l"))


@pytest.mark.parametrize(
    ("env", "argv", "message"),
    [
        ({"MASKFACE_QUEUE_SIZE": "many"}, [], "MASKFACE_QUEUE_SIZE must be a positive integer"),
        ({"GRADIO_SERVER_PORT": "0"}, [], "GRADIO_SERVER_PORT must be a positive integer"),
        ({}, ["--port", "-3"], "--port must be a positive integer"),
        ({"MASKFACE_DETECTOR": "opencv"}, [], "unknown detector"),
        ({"MASKFACE_MASK_MODEL": " , "}, [], "mask_model needs at least one model source"),
    ],
)
def test_bad_settings_fail_at_start_naming_the_setting(env, argv, message):
    with pytest.raises(ValueError, match=message):
        parse_args(argv, env)
