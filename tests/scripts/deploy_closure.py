"""Deploys a plain function through the admin client and prints, as JSON, what the test checks:

- `replicas`: a closure with two replicas; what the client reads of them and of replica 1's log.
- `crash`: a closure that imports, when called, a module found where it is deployed from but not where the
  replica runs (as a package missing there would be); the deploy's error.
- `timeout`: a closure whose replica never finishes its sample input; the deploy's error.
"""

import json
import os
import sys
import tempfile
import threading

from clipper_container.admin import ClipperConnection, DeployError

admin_url, query_url, models_dir, mode = sys.argv[1:5]
conn = ClipperConnection(admin_url=admin_url, query_url=query_url, models_dir=models_dir)


def total(batch):
    return [str(x.sum()) for x in batch]


def uses_a_local_module(batch):
    import only_where_deployed

    return [only_where_deployed.label(x) for x in batch]


def never_done_in_a_replica(batch):
    if "CLIPPER_MODEL_PATH" in os.environ:  # set in replicas only
        print("loading the model", flush=True)
        threading.Event().wait()
    return ["ready" for _ in batch]


def deploy_error(name, func, **options):
    try:
        conn.deploy_python_closure(name, "1", "doubles", func, sample_input=[0.0, 1.0], **options)
    except DeployError as e:
        return {"deploy_error": str(e), "log": e.log}
    sys.exit(f"deploying {name} did not fail")


if mode == "replicas":
    conn.deploy_python_closure("total", "1", "doubles", total, sample_input=[0.0, 1.0], num_replicas=2)
    print(json.dumps({"replicas": conn.get_model_replicas("total"), "log": conn.get_replica_logs("total", 1)}))
elif mode == "crash":
    local = tempfile.mkdtemp()
    with open(os.path.join(local, "only_where_deployed.py"), "w") as f:
        f.write("def label(x):\n    return str(x.sum())\n")
    sys.path.insert(0, local)
    print(json.dumps(deploy_error("needs-module", uses_a_local_module)))
elif mode == "timeout":
    print(json.dumps(deploy_error("never-ready", never_done_in_a_replica, wait_timeout_s=3)))
else:
    sys.exit(f"unknown mode {mode}")
