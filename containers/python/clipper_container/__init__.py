"""Serve a Python model to the Clipper frontend over ZeroMQ (Clipper RPC v3).

Owns the public entry point `serve`; the socket loop lives in `container`, settings in `config`, and the
wire format in `rpc`.
"""

from __future__ import annotations

import signal
from typing import Any, Optional, Union

from .config import Config, ConfigError
from .container import Container
from .rpc import InputType

__all__ = ["serve", "Container", "Config", "ConfigError", "InputType"]


def serve(
    predict: Any,
    *,
    model_name: Optional[str] = None,
    model_version: Optional[str] = None,
    input_type: Union[InputType, int, str, None] = None,
    host: Optional[str] = None,
    port: Union[int, str, None] = None,
) -> None:
    """Serves `predict` (a function, or an object with a `predict` method) forever.

    Settings not given here come from the CLIPPER_* environment; a missing or bad one exits with a
    message naming it.
    """
    try:
        config = Config.from_env(
            model_name=model_name, model_version=model_version, input_type=input_type, host=host, port=port
        )
    except ConfigError as e:
        raise SystemExit(f"clipper_container: {e}") from None
    container = Container(predict, config)
    # SIGTERM (a scale-down, a stop) ends the container after the batch in hand is answered and sent.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: container.stop())
    try:
        container.run()
    except KeyboardInterrupt:
        pass
