"""The admin client's checks that need no server: the contract check on a sample input, the argument order of
the deploy calls, and the pickled closure. tests/deploy_test.ts runs the deploy calls against a real server."""

import cloudpickle
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from clipper_container.admin import ClipperConnection, ContractError, check_contract
from clipper_container.closure import PICKLE_NAME, load


def received(batch):
    """Answers what the function was handed: its type, dtype, whether it can be written, and its value."""
    x = batch[0]
    if isinstance(x, np.ndarray):
        return [f"ndarray {x.dtype} ndim={x.ndim} writeable={x.flags.writeable} {x.tolist()}"]
    return [f"{type(x).__name__} {x!r}"]


def test_a_function_that_keeps_the_contract_passes_the_check():
    check_contract("doubles", lambda batch: [str(len(x)) for x in batch], [1.0, 2.0])


def test_a_function_written_for_numpy_arrays_passes_the_check_on_a_list_sample():
    check_contract("doubles", lambda batch: [str(x.sum()) for x in batch], [1.0, 2.0])


@pytest.mark.parametrize(
    "input_type, sample, expected",
    [
        ("ints", [1, -2, 3], "ndarray int32 ndim=1 writeable=False [1, -2, 3]"),
        ("ints", np.array([7], dtype=np.int64), "ndarray int32 ndim=1 writeable=False [7]"),
        ("floats", (0.5, 2), "ndarray float32 ndim=1 writeable=False [0.5, 2.0]"),
        ("doubles", [1.25, 3], "ndarray float64 ndim=1 writeable=False [1.25, 3.0]"),
        ("doubles", [], "ndarray float64 ndim=1 writeable=False []"),
        ("strings", "héllo", "str 'héllo'"),
        ("bytes", bytearray(b"\x00\xff"), "bytes b'\\x00\\xff'"),
    ],
)
def test_the_check_hands_the_function_what_a_served_replica_gets(input_type, sample, expected):
    seen = []
    check_contract(input_type, lambda batch: seen.extend(received(batch)) or ["ok"], sample)
    assert seen == [expected]


@pytest.mark.parametrize(
    "input_type, sample, words",
    [
        ("ints", [1, 1.5], 'not a valid "ints" input: element 1 is 1.5, expected a 32-bit integer'),
        ("ints", [2**31], "element 0 is 2147483648, expected a 32-bit integer"),
        ("doubles", [float("nan")], "element 0 is nan, expected a finite number"),
        ("doubles", [2**2000], "expected a finite number"),
        ("doubles", [True], "element 0 is True, expected a finite number"),
        ("doubles", [[1.0, 2.0]], r"element 0 is \[1.0, 2.0\], expected a finite number"),
        ("doubles", ["1.0"], "element 0 is '1.0', expected a finite number"),
        ("doubles", "1.0", "expected a list, tuple or 1-D numpy array of numbers, got str"),
        ("floats", 1.0, "expected a list, tuple or 1-D numpy array of numbers, got float"),
        ("doubles", np.zeros((2, 2)), r"expected a 1-D numpy array, got one of shape \(2, 2\)"),
        ("strings", b"text", 'not a valid "strings" input: expected a str, got bytes'),
        ("strings", "\ud800", "the text has no UTF-8 form"),
        ("bytes", "text", 'not a valid "bytes" input: expected bytes, got str'),
    ],
)
def test_a_sample_that_cannot_be_sent_as_the_input_type_is_explained(input_type, sample, words):
    with pytest.raises(ContractError, match=words):
        check_contract(input_type, lambda batch: ["never run"], sample)


def test_an_unknown_input_type_is_named_in_the_error():
    with pytest.raises(ValueError, match="input_type 'doubels' is invalid: expected one of bytes, ints"):
        check_contract("doubels", lambda batch: ["x"], [1.0])


@pytest.mark.parametrize(
    "func, words",
    [
        (lambda batch: [len(x) for x in batch], "output 0 is int"),
        (lambda batch: ["a", "b"], "returned 2 outputs for a batch of 1"),
        (lambda batch: "a", "must return a list of strings, got str"),
        (lambda batch: 1 / 0, "raised ZeroDivisionError"),
        (lambda batch: [x.append(1) for x in batch], "raised AttributeError"),
    ],
)
def test_a_function_that_breaks_the_contract_is_explained_in_plain_words(func, words):
    with pytest.raises(ContractError, match=words):
        check_contract("doubles", func, [1.0])


@pytest.fixture
def fitted():
    return LogisticRegression().fit(np.array([[0.0, 1.0], [1.0, 0.0]]), [0, 1])


# Nothing listens on port 9: a deploy call that got past its argument checks would fail differently.
OFFLINE = ClipperConnection(admin_url="http://127.0.0.1:9", query_url="http://127.0.0.1:9")


@pytest.mark.parametrize(
    "args, kwargs",
    [
        (("lr", "1", "MODEL", [0.0, 1.0]), {}),
        (("lr", "1", "MODEL"), {"sample_input": [0.0, 1.0]}),
    ],
)
def test_the_earlier_sklearn_argument_order_is_refused_with_the_right_call(fitted, args, kwargs):
    args = tuple(fitted if a == "MODEL" else a for a in args)
    with pytest.raises(TypeError) as refused:
        OFFLINE.deploy_sklearn_model(*args, **kwargs)
    assert str(refused.value) == (
        "deploy_sklearn_model takes (name, version, input_type, model, ...): got a LogisticRegression as "
        'input_type; call deploy_sklearn_model("lr", "1", "doubles", model, sample_input=...)'
    )


def test_an_sklearn_deploy_without_the_model_names_what_is_missing():
    with pytest.raises(TypeError, match=r'needs the fitted estimator: call deploy_sklearn_model\("lr", "1", "doubles"'):
        OFFLINE.deploy_sklearn_model("lr", "1", "doubles", sample_input=[0.0, 1.0])


def test_a_function_in_place_of_the_input_type_is_refused_with_the_right_call():
    with pytest.raises(TypeError, match=r'call deploy_python_closure\("f", "2", "doubles", func, sample_input=...\)'):
        OFFLINE.deploy_python_closure("f", "2", lambda batch: batch, "doubles")


def test_options_after_the_function_must_be_named():
    with pytest.raises(TypeError, match="positional argument"):
        OFFLINE.deploy_python_closure("f", "2", "doubles", lambda batch: batch, [0.0])


def test_a_pickled_closure_loads_with_what_it_captured(tmp_path):
    offset = 41
    with open(tmp_path / PICKLE_NAME, "wb") as f:
        cloudpickle.dump(lambda batch: [str(x + offset) for x in batch], f)
    assert load(str(tmp_path))([1]) == ["42"]
