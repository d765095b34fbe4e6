"""Runs the Python snippets of containers/python/README.md, read from the README itself, as a reader would:

- `container`: runs the snippet that calls `serve`, a container program that serves until it is stopped
  (the test makes it a model whose replicas the server runs, so it gets its settings as any replica does).
- `session ADMIN_URL QUERY_URL`: runs the other snippets in order, as one Python session, with the server
  URLs they name (the default ports) pointed at the test server.

A failing snippet's traceback names its lines in the README.
"""

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "containers" / "python" / "README.md"
SNIPPET = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
ADMIN_URL, QUERY_URL = "http://127.0.0.1:1338", "http://127.0.0.1:1337"


def snippets():
    """Each ```python block as (its first line's number in the README, its code)."""
    text = README.read_text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in SNIPPET.finditer(text)]


def run(line, code, namespace):
    # Blank lines in front, so the line numbers in a traceback are the README's.
    exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)


def is_container(code):
    return "from clipper_container import serve" in code


mode = sys.argv[1]
containers = [s for s in snippets() if is_container(s[1])]
session = [s for s in snippets() if not is_container(s[1])]
if mode == "container":
    if len(containers) != 1:
        sys.exit(f"expected one container program among the README's snippets, found {len(containers)}")
    run(*containers[0], {"__name__": "__main__"})
elif mode == "session":
    admin_url, query_url = sys.argv[2:4]
    if not any(ADMIN_URL in code for _, code in session):
        sys.exit(f"no README snippet names {ADMIN_URL}, so none would reach the test server")
    namespace = {"__name__": "__main__"}
    for line, code in session:
        run(line, code.replace(ADMIN_URL, admin_url).replace(QUERY_URL, query_url), namespace)
else:
    sys.exit(f"unknown mode {mode}")
