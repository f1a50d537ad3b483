"""Cold start of every Lambda handler, as Lambda runs it: a fresh interpreter per run, the handler's environment
from template.yaml, the layer's dependencies only, then the first invocation.

    .venv/bin/python bench/cold_start.py                          # every handler, 5 counted runs each
    .venv/bin/python bench/cold_start.py check_backup fail_job --runs 9
    .venv/bin/python bench/cold_start.py --layer source            # only the layer as `sam build` ships it
    .venv/bin/python bench/cold_start.py --compare main            # and main's handlers, run by run in turn
    .venv/bin/python bench/cold_start.py --command check_backup    # the command line of one run, for other timers

What one run measures, in a new process (``python -S -X importtime``):
- **import**: ``-X importtime``'s cumulative figure for the handler module (app.py, its dependencies and the work
  done at import), and the top contributors: self time summed by package (the standard library as one).
- **import + first invocation**: wall time from just before the import to the end of the handler's first call
  with the function's sample event (events/), Powertools' Lambda context, an X-Ray trace header, and every AWS
  request answered at once by a local endpoint (``{}``; the handler usually ends with an error such as a job not
  found - its outcome is recorded). This includes what is deferred to the first call: the tracer, the SDK's
  clients, the event model's schema. The AWS requests made and X-Ray documents sent (to a local UDP port, the
  daemon's address) are counted: tracing must still send documents.
- **CPU**: user + system time of the process up to the end of the import and up to the end of the first call
  (interpreter start included in both), steadier than wall time on a busy machine.

The environment is Lambda's: ``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME``, region, credentials (fake), the
X-Ray daemon address (``Tracing: Active``), then Globals' and the function's own variables with every
intrinsic resolved to a placeholder (``Ref`` of a parameter: its default). Tracing is enabled as it is in Lambda.
``sys.path`` is the function's directory, then the layer: the pinned layers/requirements.txt installed with pip
(cached under the temp directory) and a copy of layers/coffer. Two layers (``--layer``):
- ``bytecode``: every module precompiled (.pyc) - what a build that compiles the layer ships;
- ``source``: no .pyc at all - what ``sam build`` ships today (it unpacks wheels and skips __pycache__) and what
  Lambda, whose /opt is read-only, compiles at every cold start.

Each handler gets one uncounted run first; then ``--runs`` runs, and min and median are reported. With
``--compare REV`` the handlers and layers/coffer of that git revision are measured too, a run of each in turn (A B
A B ...), so that both see the same machine: on a shared, busy machine only such pairs compare fairly. Python is
this interpreter (Lambda runs 3.13; arm64): compare figures with each other, not with Lambda's Init Duration.
The load average at the start and the end is recorded. Figures are merged into bench/results.json under
``cold_start`` (REV's under ``cold_start.baseline``; every other key of the file is kept).
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import hashlib
import http.server
import json
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "coffer"
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
LAYERS = ("bytecode", "source")

#: what one run executes: time the import, then one invocation, and print the figures on one marked line
RUNNER = """\
import time
started = time.perf_counter()
import app
imported, import_cpu = time.perf_counter(), time.process_time()
import json, os, resource, types
os.environ["_X_AMZN_TRACE_ID"] = os.environ["COFFER_BENCH_TRACE_HEADER"]
context = types.SimpleNamespace(
    function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"], function_version="$LATEST",
    invoked_function_arn=os.environ["COFFER_BENCH_FUNCTION_ARN"],
    memory_limit_in_mb=int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]), aws_request_id="bench-request",
    log_group_name="bench", log_stream_name="bench", get_remaining_time_in_millis=lambda: 300000)
try:
    app.lambda_handler(json.loads(os.environ["COFFER_BENCH_EVENT"]), context)
    outcome = "returned"
except Exception as error:
    outcome = type(error).__name__
invoked = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
print("COFFER_BENCH " + json.dumps({"import_wall_ms": (imported - started) * 1000, "import_cpu_ms": import_cpu * 1000,
                                   "first_invocation_ms": (invoked - started) * 1000,
                                   "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000, "outcome": outcome}))
"""


# ---- the function's environment, from template.yaml ----------------------------------------------------------
@dataclass
class Function:
    name: str  # the directory under functions/
    logical_id: str
    environment: dict[str, str]
    memory_mb: int
    traced: bool
    event: dict[str, Any]


class Resolver:
    """CloudFormation intrinsics to placeholder strings (parameters: their defaults; resources: made-up names)."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.parameters = {k: v.get("Default", "") for k, v in template.get("Parameters", {}).items()}
        self.conditions = template.get("Conditions", {})
        self.pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": STACK,
                       "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            value = self.parameters[name]
            return value if not isinstance(value, (int, float)) else str(value)
        return f"{STACK}-{name.lower()}"

    def get_att(self, resource: str, attribute: str) -> str:
        return f"arn:aws:bench:{REGION}:{ACCOUNT}:{resource}/{attribute}"

    def condition(self, name: str) -> bool:
        return bool(self.value(self.conditions[name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, (str, int, float, bool)) or node is None:
            return node if not isinstance(node, (int, float)) or isinstance(node, bool) else str(node)
        if isinstance(node, list):
            return [self.value(v) for v in node]
        (key, arg), = node.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::GetAtt":
            return self.get_att(*arg) if isinstance(arg, list) else self.get_att(*arg.split(".", 1))
        if key == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))

            def sub(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in names:
                    return str(names[name])
                return self.get_att(*name.split(".", 1)) if "." in name else str(self.ref(name))

            return re.sub(r"\$\{([^!}][^}]*)\}", sub, text)
        if key == "Fn::If":
            return self.value(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Join":
            return str(arg[0]).join(str(v) for v in self.value(arg[1]))
        if key == "Fn::Equals":
            return self.value(arg[0]) == self.value(arg[1])
        if key == "Fn::Not":
            return not self.value(arg[0])
        if key == "Fn::And":
            return all(self.value(v) for v in arg)
        if key == "Fn::Or":
            return any(self.value(v) for v in arg)
        if key == "Condition":
            return self.condition(arg)
        raise ValueError(f"template.yaml: no placeholder for the intrinsic {key}")


def functions() -> list[Function]:
    import yaml

    from coffer_twin.cfn_yaml import load_template

    template = load_template(ROOT / "template.yaml")
    resolve = Resolver(template)
    globals_ = template.get("Globals", {}).get("Function", {})
    index = yaml.safe_load((ROOT / "events" / "index.yaml").read_text())
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = {**globals_, **resource["Properties"]}
        name = Path(str(properties["CodeUri"])).name
        variables = {**globals_.get("Environment", {}).get("Variables", {}),
                     **resource["Properties"].get("Environment", {}).get("Variables", {})}
        samples = [f for f, entry in index.items() if entry.get("function") == logical_id]
        sample = f"{name}.json" if (ROOT / "events" / f"{name}.json").exists() else (samples or [None])[0]
        event = json.loads((ROOT / "events" / sample).read_text()) if sample else {}
        found.append(Function(name, logical_id, {k: str(resolve.value(v)) for k, v in variables.items()},
                              int(properties.get("MemorySize", 128)), properties.get("Tracing") == "Active", event))
    return sorted(found, key=lambda f: f.name)


def lambda_environment(function: Function, code: Path, path: list[Path], endpoint: str,
                       daemon: str) -> dict[str, str]:
    """What Lambda sets, then the template's variables; nothing of this shell's environment but PATH."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "en_US.UTF-8", "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(code), "LAMBDA_RUNTIME_DIR": "/var/runtime", "_HANDLER": "app.lambda_handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "AWS_LAMBDA_FUNCTION_NAME": f"{STACK}-{function.logical_id}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
        "PYTHONPATH": os.pathsep.join(str(p) for p in [code, *path]), "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        # the bench's own: every AWS request to the local endpoint, the sample event, the invocation's trace
        "AWS_ENDPOINT_URL": endpoint, "COFFER_BENCH_EVENT": json.dumps(function.event),
        "COFFER_BENCH_TRACE_HEADER": TRACE_HEADER,
        "COFFER_BENCH_FUNCTION_ARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{function.logical_id}",
    }
    if function.traced:
        env |= {"AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "AWS_XRAY_DAEMON_ADDRESS": daemon,
                "_AWS_XRAY_DAEMON_ADDRESS": daemon.split(":")[0], "_AWS_XRAY_DAEMON_PORT": daemon.split(":")[1]}
    return env | function.environment


# ---- the code under test: the layer's dependencies, and coffer and the handlers of a tree --------------------
CACHE = Path(tempfile.gettempdir()) / "coffer-bench-cold-start"


def dependencies(kind: str) -> Path:
    """The pinned layers/requirements.txt, installed once per kind and kept (keyed by its content)."""
    requirements = ROOT / "layers" / "requirements.txt"
    key = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:12]
    python = CACHE / f"dependencies-{key}" / kind
    if not (python / ".installed").exists():
        shutil.rmtree(python, ignore_errors=True)
        print(f"installing the layer's dependencies ({kind}) into {python} ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-compile", "--target", str(python), "-r", str(requirements)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kind == "bytecode":
            compileall.compile_dir(python, quiet=1, workers=1)
        (python / ".installed").touch()
    return python


@dataclass
class Tree:
    """layers/coffer and functions/ as of the working tree or a git revision, copied per kind of layer."""

    label: str
    root: Path  # holds layers/coffer and functions/
    work: Path  # this bench run's own copies (several runs may share the machine)

    @classmethod
    def working(cls, work: Path) -> Tree:
        return cls("current", ROOT, work)

    @classmethod
    def revision(cls, rev: str, work: Path) -> Tree:
        target = work / "revision"
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "layers/coffer", "functions"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        return cls(rev, target, work)

    def code(self, function: Function) -> Path:
        return self.root / "functions" / function.name

    def layer(self, kind: str) -> list[Path]:
        """sys.path after the function's directory: this tree's coffer, then the dependencies (the layer's
        python/ holds both; their order does not matter, no name is in both)."""
        python = self.work / "layers" / re.sub(r"[^\w.-]", "_", self.label) / kind
        shutil.copytree(self.root / "layers" / "coffer", python / "coffer",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if kind == "bytecode":
            compileall.compile_dir(python / "coffer", quiet=1, workers=1)
        return [python, dependencies(kind)]


# ---- stand-ins for AWS and the X-Ray daemon -------------------------------------------------------------------
class FakeAws(http.server.BaseHTTPRequestHandler):
    """Answers every request at once: ``{}`` to the JSON protocols, an empty 200 to the others."""

    protocol_version = "HTTP/1.1"
    requests = 0
    lock = threading.Lock()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with FakeAws.lock:
            FakeAws.requests += 1
        body = b"{}" if self.headers.get("X-Amz-Target") else b""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0" if body else "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "bench")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

    def log_message(self, *_: Any) -> None:
        pass


@dataclass
class Stand:
    endpoint: str
    daemon: str
    xray: socket.socket
    server: http.server.ThreadingHTTPServer

    @classmethod
    def start(cls) -> Stand:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeAws)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        xray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        xray.bind(("127.0.0.1", 0))
        xray.setblocking(False)
        return cls(f"http://127.0.0.1:{server.server_address[1]}", f"127.0.0.1:{xray.getsockname()[1]}", xray,
                   server)

    def xray_documents(self) -> int:
        count = 0
        while True:
            try:
                self.xray.recv(65536)
            except BlockingIOError:
                return count
            count += 1

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.xray.close()


# ---- one run ------------------------------------------------------------------------------------------------
@dataclass
class Run:
    import_ms: float
    first_invocation_ms: float
    import_cpu_ms: float
    cpu_ms: float
    outcome: str
    aws_requests: int
    xray_documents: int
    by_package: Counter[str] = field(default_factory=Counter)


def command(function: Function, code: Path, path: list[Path], stand: Stand) -> tuple[list[str], dict[str, str]]:
    return ([sys.executable, "-S", "-X", "importtime", "-c", RUNNER],
            lambda_environment(function, code, path, stand.endpoint, stand.daemon))


def run_once(function: Function, code: Path, path: list[Path], stand: Stand) -> Run:
    argv, env = command(function, code, path, stand)
    stand.xray_documents()
    before = FakeAws.requests
    done = subprocess.run(argv, env=env, cwd=code, capture_output=True, text=True, timeout=120, check=False)
    marked = [line for line in done.stdout.splitlines() if line.startswith("COFFER_BENCH ")]
    if done.returncode != 0 or not marked:
        raise RuntimeError(f"{function.name}: the run failed: {done.stderr.strip().splitlines()[-3:]}")
    figures = json.loads(marked[-1].removeprefix("COFFER_BENCH "))
    cumulative, packages = import_tree(done.stderr, "app")
    time.sleep(0.05)  # UDP datagrams sent just before the process ended
    return Run(cumulative / 1000, figures["first_invocation_ms"], figures["import_cpu_ms"], figures["cpu_ms"],
               figures["outcome"],
               FakeAws.requests - before, stand.xray_documents(), packages)


def import_tree(importtime: str, module: str) -> tuple[int, Counter[str]]:
    """The module's cumulative import time (µs) and its subtree's self time summed by package."""
    rows: list[tuple[int, int, str]] = []
    for line in importtime.splitlines():
        if line.startswith("import time:") and "|" in line and not line.rstrip().endswith("imported package"):
            self_text, cumulative_text, name = line.removeprefix("import time:").split("|")
            rows.append((int(self_text), int(cumulative_text), name))
    end = next(i for i, r in enumerate(rows) if r[2].strip() == module and not r[2][1:].startswith(" "))
    start = end
    while start > 0 and rows[start - 1][2][1:].startswith(" "):  # children are indented under their parent
        start -= 1
    packages: Counter[str] = Counter()
    for own, _, name in rows[start:end + 1]:
        packages[package_of(name.strip())] += own
    return rows[end][1], packages


def package_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] in sys.stdlib_module_names or module.startswith("_"):
        return "(stdlib)"
    if parts[0] in ("coffer", "aws_lambda_powertools"):
        return ".".join(parts[:2])
    return "app (module body)" if module == "app" else parts[0]


# ---- many runs ----------------------------------------------------------------------------------------------
def spread(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 1), "median": round(statistics.median(values), 1)}


def summary(counted: list[Run]) -> dict[str, Any]:
    by_package: Counter[str] = Counter()
    for run in counted:
        by_package.update(run.by_package)
    return {
        "runs": len(counted),
        "import_ms": spread([r.import_ms for r in counted]),
        "import_and_first_invocation_ms": spread([r.first_invocation_ms for r in counted]),
        "import_cpu_ms": spread([r.import_cpu_ms for r in counted]),
        "cpu_ms": spread([r.cpu_ms for r in counted]),
        "top_imports_ms": {name: round(us / len(counted) / 1000, 1) for name, us in by_package.most_common(6)},
        "first_invocation": {"outcome": counted[-1].outcome, "aws_requests": counted[-1].aws_requests,
                             "xray_documents": counted[-1].xray_documents},
    }


def measure(function: Function, layers: list[tuple[Tree, list[Path]]], stand: Stand,
            runs: int) -> list[dict[str, Any]]:
    """One uncounted run of each tree, then `runs` rounds of one run of each, in turn."""
    for tree, path in layers:
        run_once(function, tree.code(function), path, stand)  # the file cache, the endpoint's first connection
    counted: list[list[Run]] = [[] for _ in layers]
    for _ in range(runs):
        for n, (tree, path) in enumerate(layers):
            counted[n].append(run_once(function, tree.code(function), path, stand))
    return [summary(c) for c in counted]


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · Python {platform.python_version()}"
            f" · load average {load}")


FIGURES = {"import_ms": "import", "import_and_first_invocation_ms": "+ first call",
           "import_cpu_ms": "CPU: import", "cpu_ms": "CPU: + first call"}


def table(figures: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """A row per handler: each figure's median (min), then the baseline's (--compare) after a slash."""
    lines = []
    for kind in LAYERS:
        rows = {name: row[kind] for name, row in figures.items() if kind in row}
        if not rows:
            continue
        then = f" / {baseline['rev']}" if baseline else ""
        width = 24 if baseline else 11
        lines += ["", f"layer {kind} - ms, median (min){then} - import: -X importtime's figure for app.py; CPU: the "
                      f"process's, from its start",
                  f"{'handler':25s}" + "".join(f" {title + then:>{width}s}" for title in FIGURES.values())
                  + "  first call: outcome, AWS calls, X-Ray documents; top imports (ms)"]
        for name, row in rows.items():
            old = ((baseline or {}).get("handlers", {}).get(name) or {}).get(kind)
            cells = []
            for figure in FIGURES:
                cell = f"{row[figure]['median']:.0f} ({row[figure]['min']:.0f})"
                if old and figure in old:
                    cell += f" / {old[figure]['median']:.0f} ({old[figure]['min']:.0f})"
                cells.append(f" {cell:>{width}s}")
            first = row["first_invocation"]
            top = ", ".join(f"{k} {v:.0f}" for k, v in list(row["top_imports_ms"].items())[:4])
            lines.append(f"{name:25s}" + "".join(cells) + f"  {first['outcome'][:20]}, {first['aws_requests']}, "
                         f"{first['xray_documents']}; {top}")
    return "\n".join(lines)


def merged(kept: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    """Figures per handler and layer kind: this run's replace a kept run's, the rest is kept."""
    return {name: {**kept.get(name, {}), **measured.get(name, {})} for name in sorted({*kept, *measured})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("handlers", nargs="*", help="directories under functions/ (default: all)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layer", choices=[*LAYERS, "both"], default="both")
    parser.add_argument("--compare", metavar="REV", help="measure this git revision's code too, in turn")
    parser.add_argument("--command", metavar="HANDLER", help="print one run's environment and command, and exit")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    kinds = list(LAYERS) if args.layer == "both" else [args.layer]
    chosen = [f for f in functions() if not args.handlers or f.name in args.handlers]
    unknown = set(args.handlers) - {f.name for f in chosen}
    if unknown:
        parser.error(f"no such handler under functions/: {', '.join(sorted(unknown))}")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=CACHE))
    trees = [Tree.working(work), *([Tree.revision(args.compare, work)] if args.compare else [])]
    layers = {kind: [(tree, tree.layer(kind)) for tree in trees] for kind in kinds}
    stand = Stand.start()
    try:
        if args.command:  # one line per tree: the import alone, for a timer of whole processes
            function = next(f for f in chosen if f.name == args.command)
            for tree, path in layers[kinds[0]]:
                argv, env = command(function, tree.code(function), path, stand)
                words = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
                print(f"env -i {words} {argv[0]} -S -c 'import app'")
            print(f"# (the copies these commands import are kept under {work})", file=sys.stderr)
            return 0
        started = machine()
        print(f"cold starts: {len(chosen)} handlers x {args.runs} runs x layer {'/'.join(kinds)}"
              f"{' x ' + ' / '.join(t.label for t in trees) if args.compare else ''} - {started}", flush=True)
        figures: list[dict[str, Any]] = [{} for _ in trees]
        for function in chosen:
            for kind in kinds:
                for n, measured in enumerate(measure(function, layers[kind], stand, args.runs)):
                    figures[n].setdefault(function.name, {})[kind] = measured
            def medians(kind: str, figure: str, name: str = function.name) -> str:
                return " / ".join(f"{f[name][kind][figure]['median']:.0f}" for f in figures)

            print(f"  {function.name}: " + "; ".join(
                f"{kind} import {medians(kind, 'import_ms')} ms, with the first call "
                f"{medians(kind, 'import_and_first_invocation_ms')} ms" for kind in kinds), flush=True)
    finally:
        stand.stop()
        if not args.command:
            shutil.rmtree(work, ignore_errors=True)
    ended = machine().rsplit("· ", 1)[-1]
    result = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "machine": f"{started}; at the end: {ended}", "method": "bench/cold_start.py (see its docstring)"}
    # read just before writing: other benches merge their own keys into the same file meanwhile
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    previous = results.get("cold_start", {})
    handlers = merged(previous.get("handlers", {}), figures[0])
    baseline = previous.get("baseline")
    if args.compare:
        kept = (baseline or {}).get("handlers", {}) if (baseline or {}).get("rev") == args.compare else {}
        baseline = {"rev": args.compare, **result, "handlers": merged(kept, figures[1])}
    results["cold_start"] = {**result, "handlers": handlers, **({"baseline": baseline} if baseline else {})}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(figures[0], baseline if args.compare else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
