"""The ``multi-llm-otel`` command: ``demo``, ``ingest`` and ``check``.

Only the standard library is imported here; each subcommand loads what it needs when it runs,
so ``--help`` is instant and ``import multi_llm_otel`` never pays for the command line.
``main()`` runs the command the way the console script does; ``ingest`` and ``demo --export``
set up process-wide telemetry through ``configure()``, so call them once per process.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from multi_llm_otel._version import __version__
from multi_llm_otel.cli._exit import ExitCode

__all__ = ["main"]

_ENVIRONMENT = """\
configuration (standard OpenTelemetry variables; there is no config file):
  OTEL_EXPORTER_OTLP_ENDPOINT            OTLP base endpoint; unset: the embedded JSON-lines sink
  OTEL_EXPORTER_OTLP_{TRACES,LOGS,METRICS}_ENDPOINT   per-signal endpoint, used as given
  OTEL_EXPORTER_OTLP_PROTOCOL            http/protobuf (default) or grpc
  OTEL_EXPORTER_OTLP_HEADERS             k=v,k2=v2 sent with every export (…_TRACES_HEADERS etc.)
  OTEL_EXPORTER_OTLP_TIMEOUT             seconds per export request (default 10)
  OTEL_{TRACES,LOGS,METRICS}_EXPORTER    otlp, console (the JSON-lines sink) or none
  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER[_ARG], OTEL_SDK_DISABLED
  MULTI_LLM_OTEL_SINK                    file for the JSON-lines sink
  MULTI_LLM_OTEL_USER_ID_HASH_KEY        export user ids as keyed hashes
  MULTI_LLM_OTEL_SPAN_EVENTS             false: events as log records only, not also on their spans"""

_MAIN_EPILOG = f"""\
Start with `multi-llm-otel demo`: it needs no server.

{_ENVIRONMENT}

exit codes: 0 success, 1 rejected input (ingest), unreachable endpoint (check) or a failed live
call (demo), 2 usage error, 3 export failure, 4 a setting that cannot be used (check; ingest when
the sink cannot be written). See `multi-llm-otel COMMAND --help` for each command."""

_DEMO_EPILOG = f"""\
Without --base-url the demo replays a bundled session (requests and responses, a cache miss then
hits, an application cache hit, an error, user and system scope) through the real mapping into
in-memory providers and prints each event as its span event and its log record. Nothing leaves
the process unless --export is given; it sends the session moved to the current time (spacing
kept), so a trace backend's default search (the last hour) finds it.

With --base-url it makes three real calls through @llm_call (two plain ones with the same prompt,
so a server with a prompt cache reports the second as a hit, and one streamed) and prints the
spans, events, log records and metrics they produced. It needs the SDK of the API:
  pip install 'multi-llm-otel[openai]'      --api openai     --base-url http://127.0.0.1:8080/v1
  pip install 'multi-llm-otel[anthropic]'   --api anthropic  --base-url http://127.0.0.1:8080
The API key comes from OPENAI_API_KEY / ANTHROPIC_API_KEY as the SDK reads it; local servers
that need none get a placeholder.

{_ENVIRONMENT}

exit codes: 0 success, 1 a live call failed, 2 usage error or SDK missing, 3 export failure (--export)."""

_INGEST_EPILOG = f"""\
input: one JSON value per line, as the Rust multi-llm crate's serde derives write them:
  {{"id":"<uuid v4>","event_type":"llm_request","metadata":{{...}},"created_at":"2026-11-26T19:11:18.123456789Z"}}
      a bare event: system scope
  {{"event":{{...the event...}},"scope":{{"User":"u1"}}}}    or    {{"event":{{...}},"scope":"System"}}
Blank lines are skipped. A bad line (malformed JSON, a wrong type, a non-v4 id, a timestamp not in
UTC, invalid UTF-8, a line over --max-line-bytes or --max-line-values) is reported on stderr as
PATH:LINE: reason and skipped; the rest is processed. Timestamps keep microseconds (digits past the
sixth are cut). --follow follows a regular file by name (rotation, truncation); a pipe, a FIFO,
/dev/stdin or - is read until its writers close it.

output: each event becomes one OpenTelemetry log record (event name, timestamp, severity, the
attributes of the mapping, the metadata as the body) sent to the configured exporters. No span
events: the spans these events belonged to ran in the process that wrote them, and a span made up
here would bundle unrelated events. So OTLP log pipelines receive them; a trace-only backend such
as Jaeger does not. With no OTLP endpoint set, the JSON-lines sink writes to stdout (or to
MULTI_LLM_OTEL_SINK); progress, rejections and the summary go to stderr. The reader waits for the
exporter every 256 events, so a slow endpoint slows the reading instead of losing events. No
metrics are exported: ingest produces log records only.

export failures: the SDK's flush reports success even when an export failed, so failures are
taken from the library's loss counts (records in failed exports or evicted from a full queue, see
multi_llm_otel.stats()) and from what the SDK and the OTLP exporters log. The summary says how
many records were lost, not which events. After 3 flushes in a row that lost records (an endpoint
that refuses or never answers, a full disk) reading stops with exit code 3 and the summary.

{_ENVIRONMENT}

exit codes: 0 every line exported, 1 some lines rejected, 2 usage error (bad flags, unreadable
file), 3 export failure (wins over 1), 4 MULTI_LLM_OTEL_SINK cannot be written (nothing is read),
128+N stopped by signal N before the end (without --follow; with --follow SIGINT/SIGTERM are the
normal way to stop and give 0, 1 or 3)."""

_CHECK_EPILOG = f"""\
Prints the exporters per signal, the protocol, the endpoint of each signal, how many headers are
set (never their names or values), the export timeout, service name, resource attributes, sampler
and user-id hashing, as configure() would apply them, and every setting configure() cannot use
(it warns and uses the default instead). Then, for each signal exported over OTLP:
  http/protobuf: POSTs an empty export request to the signal's URL with the configured headers;
    2xx or 400 counts as answering, 401/403, 404, 5xx and connection errors do not;
  grpc: a TCP connect to the endpoint (the gRPC service itself is not called).
An endpoint passed to configure(endpoint=...) in code is not visible here.

{_ENVIRONMENT}

exit codes: 0 every endpoint answers, or nothing is configured (the embedded default needs no
server); 1 an endpoint does not answer; 2 usage error; 4 a setting cannot be used (wins over 1)."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="multi-llm-otel",
        description="OpenTelemetry for LLM business events: see them, bridge them, check where they go.",
        epilog=_MAIN_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="show the telemetry of a bundled LLM session (no server needed), or of real calls",
        description="Show what the bridge makes of LLM business events.",
        epilog=_DEMO_EPILOG,
        formatter_class=formatter,
    )
    demo.add_argument("--base-url", metavar="URL", help="an OpenAI- or Anthropic-compatible server: make real calls")
    demo.add_argument(
        "--api", choices=("openai", "anthropic"), default="openai", help="the API the server speaks (default: openai)"
    )
    demo.add_argument("--model", metavar="NAME", help="the model to call (required with --base-url)")
    demo.add_argument(
        "--max-tokens", type=_positive_int, default=32, metavar="N", help="output limit per live call (default: 32)"
    )
    demo.add_argument(
        "--export",
        action="store_true",
        help="send the bundled session, moved to the current time, to the configured exporters (OTEL_*)",
    )
    demo.set_defaults(run=_run_demo)

    ingest = commands.add_parser(
        "ingest",
        help="bridge business events from JSON lines (the Rust crate's serde form) to OpenTelemetry",
        description="Bridge business events written as JSON lines to the configured OpenTelemetry exporters.",
        epilog=_INGEST_EPILOG,
        formatter_class=formatter,
    )
    ingest.add_argument("path", metavar="PATH", help="the JSON-lines file, or - for stdin")
    ingest.add_argument(
        "-f", "--follow", action="store_true", help="keep reading as the file grows (and across rotation), like tail -F"
    )
    ingest.add_argument(
        "--follow-timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="with --follow: stop after this long without new data (default: run until SIGINT/SIGTERM)",
    )
    ingest.add_argument(
        "--max-line-bytes",
        type=_positive_int,
        metavar="N",
        help="reject longer lines without holding them in memory (default: 67108864, 64 MiB)",
    )
    ingest.add_argument(
        "--max-line-values",
        type=_positive_int,
        metavar="N",
        help="reject lines of more JSON values without parsing them (default: 100000)",
    )
    ingest.add_argument(
        "--no-progress", action="store_true", help="no progress line (shown on stderr only when it is a terminal)"
    )
    ingest.set_defaults(run=_run_ingest)

    check = commands.add_parser(
        "check",
        help="show the effective OTEL_* configuration and whether the OTLP endpoint answers",
        description="Show the effective telemetry configuration and whether the OTLP endpoint answers.",
        epilog=_CHECK_EPILOG,
        formatter_class=formatter,
    )
    check.add_argument(
        "--timeout", type=_positive_float, default=5.0, metavar="SECONDS", help="per connection attempt (default: 5)"
    )
    check.set_defaults(run=_run_check)
    return parser


class _UsageError(Exception):
    pass


def _run_demo(args: argparse.Namespace) -> int:
    from multi_llm_otel.cli import demo as _demo

    if args.base_url is None:
        if args.model is not None:
            raise _UsageError("--model needs --base-url")
        if args.export:
            return _demo.export_sample(sys.stdout, sys.stderr)
        return _demo.show_sample(sys.stdout)
    if args.export:
        raise _UsageError("--export replays the bundled session; it does not combine with --base-url")
    if not args.model:
        raise _UsageError("--base-url needs --model")
    return _demo.live(args.api, args.base_url, args.model, args.max_tokens, sys.stdout, sys.stderr)


def _run_ingest(args: argparse.Namespace) -> int:
    from multi_llm_otel.cli import ingest as _ingest

    if args.follow_timeout is not None and not args.follow:
        raise _UsageError("--follow-timeout needs --follow")
    if args.path == "-":
        stream = sys.stdin.buffer
    else:
        if os.path.isdir(args.path):
            raise _UsageError(f"{args.path} is a directory")
        try:
            stream = open(args.path, "rb")  # noqa: SIM115 - the ingest run closes it
        except OSError as exc:
            raise _UsageError(f"cannot read {args.path}: {exc.strerror}") from None
    options = _ingest.IngestOptions(
        path=args.path,
        follow=args.follow,
        follow_timeout=args.follow_timeout,
        max_line_bytes=args.max_line_bytes or _ingest.DEFAULT_MAX_LINE_BYTES,
        max_line_values=args.max_line_values or _ingest.DEFAULT_MAX_LINE_VALUES,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    return _ingest.command(options, stream, sys.stdout, sys.stderr)


def _run_check(args: argparse.Namespace) -> int:
    from multi_llm_otel.cli import check as _check

    return _check.command(args.timeout, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: the process arguments); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        code = int(args.run(args))
        _check_stdout()
        return code
    except SystemExit as exc:
        # argparse exits for --help, --version and bad arguments; main() returns instead.
        if exc.code is None:
            return ExitCode.OK
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    except _UsageError as exc:
        sys.stderr.write(f"multi-llm-otel {args.command}: error: {exc}\n")
        return ExitCode.USAGE
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly.
        _discard_stdout()
        return ExitCode.OK


def _check_stdout() -> None:
    """Output that could not be written (stdout on a full disk) was already counted and
    reported by the command; Python's exit-time flush must not fail over it a second time."""
    try:
        sys.stdout.flush()
    except OSError:
        _discard_stdout()


def _discard_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
