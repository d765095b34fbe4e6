"""Trains a small PyTorch classifier and deploys it through the admin client with two replicas, one pinned
to GPU 0 and one to the CPU (both run on the CPU where there is no GPU); prints the model's own answers for
the probe inputs as JSON so the test can compare them with what the server answers."""

import json
import sys

import torch

from clipper_container.admin import ClipperConnection

admin_url, query_url, models_dir = sys.argv[1:4]
conn = ClipperConnection(admin_url=admin_url, query_url=query_url, models_dir=models_dir)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 2))

    def forward(self, x):
        return self.layers(x)


def classify(model, batch):
    device = next(model.parameters()).device
    x = torch.tensor([list(v) for v in batch], dtype=torch.float32, device=device)
    return [str(int(label)) for label in model(x).argmax(dim=1).tolist()]


torch.manual_seed(7)
X = torch.randn(256, 4)
y = (X[:, 0] - X[:, 2] > 0).long()
model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
for _ in range(100):
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(X), y).backward()
    optimizer.step()

conn.register_application("torch-app", "doubles", "-1", 2_000_000)
conn.deploy_pytorch_model("net", "1", "doubles", classify, model, sample_input=[0.0] * 4, num_replicas=2, gpus=["0", ""])
conn.link_model_to_app("torch-app", "net")
probes = torch.randn(8, 4)
model.eval()
with torch.no_grad():
    expected = classify(model, probes.tolist())
print(json.dumps({"probes": probes.tolist(), "expected": [int(v) for v in expected]}))
