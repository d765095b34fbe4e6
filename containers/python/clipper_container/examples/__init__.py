"""Runnable example containers: `python -m clipper_container.examples.<name>`."""
