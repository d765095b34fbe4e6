"""The admin client's checks that need no server: the contract check and the pickled closure."""

import cloudpickle
import pytest

from clipper_container.admin import ContractError, check_contract
from clipper_container.closure import PICKLE_NAME, load


def test_a_function_that_keeps_the_contract_passes_the_check():
    check_contract(lambda batch: [str(len(x)) for x in batch], [1.0, 2.0])


@pytest.mark.parametrize(
    "func, words",
    [
        (lambda batch: [len(x) for x in batch], "output 0 is int"),
        (lambda batch: ["a", "b"], "returned 2 outputs for a batch of 1"),
        (lambda batch: "a", "must return a list of strings, got str"),
        (lambda batch: 1 / 0, "raised ZeroDivisionError"),
    ],
)
def test_a_function_that_breaks_the_contract_is_explained_in_plain_words(func, words):
    with pytest.raises(ContractError, match=words):
        check_contract(func, [1.0])


def test_a_pickled_closure_loads_with_what_it_captured(tmp_path):
    offset = 41
    with open(tmp_path / PICKLE_NAME, "wb") as f:
        cloudpickle.dump(lambda batch: [str(x + offset) for x in batch], f)
    assert load(str(tmp_path))([1]) == ["42"]
