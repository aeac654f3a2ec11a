"""Retrain, evaluate and publish the maskface models (``python -m training``)."""
