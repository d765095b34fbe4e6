"""Fixtures: a fake frontend, and a real Container running in a thread against it."""

from __future__ import annotations

import threading

import pytest

from clipper_container import Config, Container, InputType
from frontend import FakeFrontend


@pytest.fixture
def frontend():
    fake = FakeFrontend()
    yield fake
    fake.close()


@pytest.fixture
def start_container(frontend):
    """Starts a Container serving `model` to the fake frontend; stops it and checks it ended at teardown."""
    running = []

    def start(model, input_type=InputType.DOUBLES, **intervals):
        config = Config(model_name="m", model_version="7", input_type=input_type, port=frontend.port)
        container = Container(model, config, **intervals)
        thread = threading.Thread(target=container.run, daemon=True)
        thread.start()
        running.append((container, thread))
        return container

    yield start
    for container, thread in running:
        container.stop()
        thread.join(timeout=5)
        assert not thread.is_alive(), "Container.run did not return after stop()"
