"""Configuration from the CLIPPER_* environment and explicit overrides."""

import pytest

from clipper_container import Config, ConfigError, InputType

BASE = {"CLIPPER_MODEL_NAME": "sum", "CLIPPER_MODEL_VERSION": "1"}


def test_defaults_fill_in_everything_but_name_and_version():
    assert Config.from_env(BASE) == Config("sum", "1", InputType.DOUBLES, "127.0.0.1", 7000, None)


def test_every_variable_is_read_from_the_environment():
    env = dict(
        BASE, CLIPPER_IP="10.0.0.2", CLIPPER_PORT="7001", CLIPPER_INPUT_TYPE="Strings", CLIPPER_MODEL_PATH="/m",
        CLIPPER_REPLICA="2",
    )
    assert Config.from_env(env) == Config("sum", "1", InputType.STRINGS, "10.0.0.2", 7001, "/m", 2)


@pytest.mark.parametrize("bad", ["-1", "two", "4294967296"])
def test_a_bad_replica_number_names_the_variable_and_the_value(bad):
    with pytest.raises(ConfigError, match=f"CLIPPER_REPLICA='{bad}' is invalid: expected a non-negative integer"):
        Config.from_env(dict(BASE, CLIPPER_REPLICA=bad))


def test_explicit_arguments_override_the_environment():
    env = dict(BASE, CLIPPER_PORT="not-a-port", CLIPPER_INPUT_TYPE="bytes")
    config = Config.from_env(env, model_name="other", model_version="2", input_type="ints", host="h", port=9)
    assert config == Config("other", "2", InputType.INTS, "h", 9, None)


@pytest.mark.parametrize("missing", ["CLIPPER_MODEL_NAME", "CLIPPER_MODEL_VERSION"])
def test_a_missing_name_or_version_names_the_variable(missing):
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        Config.from_env(env)


@pytest.mark.parametrize(
    "expected, aliases",
    [
        (InputType.BYTES, ["bytes", "byte", "b"]),
        (InputType.INTS, ["ints", "integers", "int", "integer", "i"]),
        (InputType.FLOATS, ["floats", "float", "f"]),
        (InputType.DOUBLES, ["doubles", "double", "d"]),
        (InputType.STRINGS, ["strings", "string", "str", "strs", "s"]),
    ],
)
def test_input_type_aliases_are_accepted_in_any_case(expected, aliases):
    for alias in aliases + [a.upper() for a in aliases]:
        assert Config.from_env(dict(BASE, CLIPPER_INPUT_TYPE=alias)).input_type == expected


def test_an_unknown_input_type_names_the_variable_and_the_value():
    with pytest.raises(ConfigError, match="CLIPPER_INPUT_TYPE='tensor'"):
        Config.from_env(dict(BASE, CLIPPER_INPUT_TYPE="tensor"))


@pytest.mark.parametrize("port", ["seven", "0", "70000"])
def test_a_bad_port_names_the_variable_and_the_value(port):
    with pytest.raises(ConfigError, match=f"CLIPPER_PORT='{port}'"):
        Config.from_env(dict(BASE, CLIPPER_PORT=port))


def test_a_bad_explicit_argument_names_the_argument():
    with pytest.raises(ConfigError, match="port='x'"):
        Config.from_env(BASE, port="x")
