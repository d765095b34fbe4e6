"""Container configuration: reads the CLIPPER_* environment, applies explicit overrides, and validates.

Every error names the variable (or keyword argument) and the value it got, so a misconfigured container
says exactly what to fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional, Union

from .rpc import InputType

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7000

_INPUT_TYPE_ALIASES = {
    InputType.BYTES: ("bytes", "byte", "b"),
    InputType.INTS: ("ints", "integers", "int", "integer", "i"),
    InputType.FLOATS: ("floats", "float", "f"),
    InputType.DOUBLES: ("doubles", "double", "d"),
    InputType.STRINGS: ("strings", "string", "str", "strs", "s"),
}
_INPUT_TYPES_BY_ALIAS = {alias: t for t, aliases in _INPUT_TYPE_ALIASES.items() for alias in aliases}


class ConfigError(ValueError):
    """A missing or invalid setting."""


@dataclass(frozen=True)
class Config:
    model_name: str
    model_version: str
    input_type: InputType = InputType.DOUBLES
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    model_path: Optional[str] = None
    # The replica's number as the process manager that started it counts (CLIPPER_REPLICA); the frontend
    # names the replica by it, so its logs and the management API agree. None when run by hand.
    replica: Optional[int] = None

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @classmethod
    def from_env(
        cls,
        environ: Optional[Mapping[str, str]] = None,
        *,
        model_name: Optional[str] = None,
        model_version: Optional[str] = None,
        input_type: Union[InputType, int, str, None] = None,
        host: Optional[str] = None,
        port: Union[int, str, None] = None,
    ) -> "Config":
        """Explicit keyword arguments win over the environment (`os.environ` unless given)."""
        env = os.environ if environ is None else environ
        return cls(
            model_name=_required(model_name, env, "CLIPPER_MODEL_NAME"),
            model_version=_required(model_version, env, "CLIPPER_MODEL_VERSION"),
            input_type=_setting(
                input_type, "input_type", env, "CLIPPER_INPUT_TYPE", InputType.DOUBLES, parse_input_type
            ),
            host=_setting(host, "host", env, "CLIPPER_IP", DEFAULT_HOST, str),
            port=_setting(port, "port", env, "CLIPPER_PORT", DEFAULT_PORT, parse_port),
            model_path=env.get("CLIPPER_MODEL_PATH") or None,
            replica=_setting(None, "replica", env, "CLIPPER_REPLICA", None, parse_replica),
        )


def parse_input_type(value: Union[InputType, int, str]) -> InputType:
    """Accepts an InputType, its wire id, or a case-insensitive alias such as "doubles" or "d"."""
    if isinstance(value, str):
        found = _INPUT_TYPES_BY_ALIAS.get(value.strip().lower())
        if found is None:
            raise ValueError("expected one of bytes, ints, floats, doubles, strings (or an alias such as d)")
        return found
    return InputType(value)


def parse_port(value: Union[int, str]) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise ValueError("expected an integer TCP port between 1 and 65535")
    return port


def parse_replica(value: Union[int, str]) -> int:
    try:
        replica = int(value)
    except (TypeError, ValueError):
        replica = -1
    if not 0 <= replica < 2**32:
        raise ValueError("expected a non-negative integer replica number")
    return replica


def _required(explicit: Optional[str], env: Mapping[str, str], variable: str) -> str:
    value = explicit if explicit is not None else env.get(variable)
    if not value:
        raise ConfigError(f"{variable} is not set; a container needs CLIPPER_MODEL_NAME and CLIPPER_MODEL_VERSION")
    return value


def _setting(explicit, argument: str, env: Mapping[str, str], variable: str, default, parse):
    if explicit is not None:
        source, value = argument, explicit
    elif env.get(variable):
        source, value = variable, env[variable]
    else:
        return default
    try:
        return parse(value)
    except ValueError as e:
        raise ConfigError(f"{source}={value!r} is invalid: {e}") from None
