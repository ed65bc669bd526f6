"""Proves that a test-bed server binary works on this machine before the tests trust it:
starts it exactly as the tests start it (tests/_servers.py), on 127.0.0.1 and free ports,
asks it one thing, and stops it.

    prove-binary.py llama-server FOLDER MODEL   /health, then one tiny chat completion
    prove-binary.py jaeger BINARY               its health endpoint
    prove-binary.py prometheus BINARY           /-/ready

Exits 0 when the binary answered; otherwise 1 with what went wrong and the server's log tail.
A cached binary that ran last time can still crash here: machines differ between runs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests._servers import (
    jaeger_process,
    llama_server_process,
    post_json,
    prometheus_process,
    running,
)


def prove_llama_server(folder: Path, model: Path, tmp: Path) -> str:
    server, base, ready = llama_server_process(folder, model, tmp / "llama-server.log")
    with running(server, ready, timeout=180):
        try:
            answer = post_json(
                f"{base}/v1/chat/completions",
                {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 4},
                timeout=180,
            )
        except (OSError, ValueError) as exc:
            raise AssertionError(f"the completion failed: {exc!r}\nlog tail:\n{server.log_tail()}") from exc
        tokens = answer.get("usage", {}).get("completion_tokens", 0)
        if not answer.get("choices") or tokens < 1:
            raise AssertionError(f"the completion has no generated tokens: {answer}")
        return f"llama-server answered /health and a completion of {tokens} token(s)"


def prove_jaeger(binary: Path, tmp: Path) -> str:
    server, _, _, ready = jaeger_process(binary, tmp)
    with running(server, ready, timeout=120):
        return "jaeger answered its health endpoint"


def prove_prometheus(binary: Path, tmp: Path) -> str:
    server, _, ready = prometheus_process(binary, tmp / "prometheus")
    with running(server, ready, timeout=120):
        return "prometheus answered /-/ready"


def main(argv: list[str]) -> int:
    kinds = {"llama-server": 2, "jaeger": 1, "prometheus": 1}
    if len(argv) < 1 or argv[0] not in kinds or len(argv) - 1 != kinds[argv[0]]:
        print(__doc__, file=sys.stderr)
        return 2
    kind, args = argv[0], [Path(a) for a in argv[1:]]
    with tempfile.TemporaryDirectory(prefix=f"prove-{kind}-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            if kind == "llama-server":
                print(prove_llama_server(args[0], args[1], tmp))
            elif kind == "jaeger":
                print(prove_jaeger(args[0], tmp))
            else:
                print(prove_prometheus(args[0], tmp))
        except AssertionError as exc:
            print(f"{kind} does not work: {exc}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
