"""Serving a finished run over HTTP with LitServe: ``python main.py serve --config RUN/config.yaml``."""
