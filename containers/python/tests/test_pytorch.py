"""The PyTorch deployer without a server: how the model runs in a replica, what gets pickled, and the
contract check. The management calls it makes are recorded here; tests/deploy_test.ts runs it against a
real server."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from clipper_container.admin import ClipperConnection, ContractError, torch_predict

USER_CODE = textwrap.dedent(
    """
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 2)
            self.dropout = torch.nn.Dropout(0.5)

        def forward(self, x):
            return self.dropout(self.linear(x))

    def classify(model, batch):
        device = next(model.parameters()).device
        x = torch.tensor([list(v) for v in batch], dtype=torch.float32, device=device)
        return [str(int(i)) for i in model(x).argmax(dim=1).tolist()]
    """
)


class RecordingConnection(ClipperConnection):
    """Records management calls instead of sending them."""

    def __init__(self, models_dir):
        super().__init__(models_dir=str(models_dir))
        self.calls = []

    def _call(self, endpoint, body):
        self.calls.append((endpoint, body))
        return None


@pytest.fixture
def user_code(tmp_path, monkeypatch):
    """The user's model class and function, in a module of their own that a replica cannot import."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "usermodel.py").write_text(USER_CODE)
    monkeypatch.syspath_prepend(str(source))
    import usermodel

    yield usermodel
    del sys.modules["usermodel"]


def test_the_model_runs_in_eval_mode_without_gradients():
    seen = {}

    def func(model, batch):
        seen["training"] = model.training
        seen["grad"] = torch.is_grad_enabled()
        return ["ok" for _ in batch]

    model = torch.nn.Linear(2, 1)
    assert torch_predict(func, model)([[1.0, 2.0]]) == ["ok"]
    assert seen == {"training": False, "grad": False}


def test_a_deployed_model_answers_in_a_process_without_the_users_code(tmp_path, user_code):
    torch.manual_seed(3)
    model = user_code.Net()
    conn = RecordingConnection(tmp_path / "models")
    folder = conn.deploy_pytorch_model(
        "net",
        "1",
        "doubles",
        user_code.classify,
        model,
        sample_input=[0.0, 0.0, 0.0],
        num_replicas=2,
        gpus=["0", ""],
        wait=False,
    )

    probes = [[1.0, -2.0, 0.5], [-1.0, 0.3, 2.0], [0.2, 0.2, -3.0]]
    model.eval()
    expected = user_code.classify(model, probes)
    loader = f"import json; from clipper_container.closure import load; print(json.dumps(load({folder!r})({probes!r})))"
    out = subprocess.run([sys.executable, "-c", loader], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == expected
    assert [endpoint for endpoint, _ in conn.calls] == ["add_model", "set_num_replicas"]
    assert conn.calls[1][1]["gpus"] == ["0", ""]


def test_deploying_leaves_the_callers_model_as_it_was(tmp_path, user_code):
    model = user_code.Net().train()
    RecordingConnection(tmp_path / "models").deploy_pytorch_model(
        "net", "1", "doubles", user_code.classify, model, sample_input=[0.0, 0.0, 0.0], wait=False
    )
    assert model.training


def test_a_function_returning_tensors_is_refused_before_deploy(tmp_path, user_code):
    conn = RecordingConnection(tmp_path / "models")
    with pytest.raises(ContractError, match="output 0 is Tensor"):
        conn.deploy_pytorch_model(
            "net",
            "1",
            "doubles",
            lambda model, batch: list(model(torch.zeros(len(batch), 3))),
            user_code.Net(),
            sample_input=[0.0] * 3,
        )
    assert conn.calls == []
