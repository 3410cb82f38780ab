"""Load test of the public app: normal visitors alone, then the same visitors while others attack.

    python bench/load.py [--visitors 14] [--attackers 6]

Starts ``python app.py`` in public mode on loopback (its own Gradio cache, temp folder and model
cache, sessions that go after 20 idle seconds), then drives it with gradio_client:

1. **Quiet**: ``--visitors`` normal visitors at once, each with its own slice of UMSAB tweets
   (100 per language, 4 languages): upload, check, train, predict a text, predict a file, map.
2. **Under attack**: the same flows with new visitors, while ``--attackers`` other visitors send
   the attacks of issue 10 round after round until the normal visitors are done: a classifier
   asking for a 2,000,000-wide layer, 30,000 columns, 10 million Parquet rows, 45 MB of tiny
   rows, 20 MB texts, server paths and hub ids as model names, 100,000 zip entries, deep JSON,
   5,000-digit numbers, a config that is a list, hidden=-5.

Both phases run twice, on two servers: with public mode's defaults, and without its per-address
request limit (attackers at full speed: what the app's own refusals cost). Reports normal
visitors' p50/p95 request latency under attack against the quiet run of the same server (the
ratio is the figure that matters), the server's peak memory and CPU time in each phase, the
clients' CPU time (they share the 2 cores), errors, how fast each attack was refused, and the
files left once the sessions idled out. Writes bench/results/load.md. Needs ../shared/data (UMSAB).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
UMSAB = ROOT.parent / "shared" / "data" / "umsab"
RESULTS = ROOT / "bench" / "results" / "load.md"
LANGS = {"english": "en", "spanish": "es", "french": "fr", "arabic": "ar"}
LABELS = {"0": "negative", "1": "neutral", "2": "positive"}
IDLE_SECONDS = 20
STEPS = ("upload", "check", "train", "predict text", "predict file", "map")


def umsab_rows(split: str, start: int, n: int) -> list[list[str]]:
    rows = []
    for folder, lang in LANGS.items():
        texts = (UMSAB / folder / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
        labels = (UMSAB / folder / f"{split}_labels.txt").read_text(encoding="utf-8").split("\n")
        pairs = [(t, y.strip()) for t, y in zip(texts, labels, strict=False) if y.strip()][start : start + n]
        rows += [[t, LABELS[y], lang] for t, y in pairs]
    return rows


def write_csv(path: Path, header: list[str], rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- the attacks -------------------------------------------------------------------------------------


def _zip(path: Path, files: dict[str, bytes], n_empty: int = 0) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for i in range(n_empty):
            archive.writestr(f"e{i}", b"")
    return path


def attack_files(folder: Path, classifier_zip: Path) -> dict[str, tuple[str, object]]:
    """name -> (api name, arguments or a file path), one per row of the issue's table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with zipfile.ZipFile(classifier_zip) as archive:
        real = {name: archive.read(name) for name in archive.namelist()}

    def with_config(change) -> dict[str, bytes]:
        config = json.loads(real["config.json"])
        config = change(config) or config
        return {**real, "config.json": json.dumps(config).encode()}

    wide = folder / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(30_000)) + "\n" + "x," * 29_999 + "x\n")
    parquet = folder / "rows.parquet"
    pq.write_table(pa.table({"text": pa.array(["x"] * 10_000_000).dictionary_encode()}), parquet)
    tall = folder / "tall.csv"
    tall.write_bytes(b"t\n" + b"a\n" * 22_500_000)  # 45 MB
    deep = folder / "deep.jsonl"
    deep.write_text('{"text": "a", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    digits = folder / "digits.jsonl"
    digits.write_text('{"text": "a", "n": ' + "7" * 5000 + "}\n")

    def hidden(n):
        return lambda c: c["head"]["config"].update(hidden=n)

    text = "Il pleut et il fait froid. " * 750_000 + "\nHello"  # 20 MB
    return {
        "classifier asking for hidden=2,000,000": (
            "/load_head",
            _zip(folder / "wide.zip", with_config(hidden(2_000_000))),
        ),
        "CSV of 30,000 columns": ("/load_file", wide),
        "Parquet of 10 million rows (67 KB)": ("/load_file", parquet),
        "CSV of 22.5 million tiny rows (45 MB)": ("/load_file", tall),
        "20 MB text in Compare": ("/compare", (text, "embedded")),
        "model '~/.ssh'": ("/compare", ("a\nb", "~/.ssh")),
        "model '../..'": ("/compare", ("a\nb", "../..")),
        "model 'org/any-model'": ("/compare", ("a\nb", "org/any-model")),
        "zip of 100,000 empty entries": ("/load_head", _zip(folder / "many.zip", real, n_empty=100_000)),
        "JSON nested 100,000 deep": ("/load_file", deep),
        "JSON number of 5,000 digits": ("/load_file", digits),
        "classifier config that is a list": ("/load_head", _zip(folder / "list.zip", with_config(lambda c: [1, 2]))),
        "classifier with hidden=-5": ("/load_head", _zip(folder / "neg.zip", with_config(hidden(-5)))),
        "100,000-character paste shown as pieces": ("/pieces", ("Il pleut. " * 10_000, "embedded")),
        "fill-the-blank with model '../..'": ("/fill_mask", ("a <mask> b", "../..")),
        "every layer measured on the sample, again and again": ("/layers", ("embedded", False)),
        "201 label names, then 200 of 200 characters each": ("/zero_shot", (",".join(["x"] * 201), "", "embedded")),
        "the sample classified from label names, again and again": (
            "/zero_shot",
            (",".join(f"l{i:03d}" + "x" * 196 for i in range(200)), "", "embedded"),
        ),
        "the sample mapped with 50 named clusters, again and again": (
            "/embedding_map",
            ("pca", "2", "cluster", True, [], True, 50, "en"),
        ),
        "clusters named in a 100,000-character language": (
            "/embedding_map",
            ("pca", "2", "cluster", True, [], True, 0, "x" * 100_000),
        ),
        "a 100,000-character search on the map": ("/find_on_map", ("pluie " * 16_666,)),
        "a selection of 100,000 points": ("/map_selection", (" ".join(["7"] * 100_000),)),
        "the map's 384 points downloaded as Excel": ("/selected_rows", (" ".join(map(str, range(384))), "xlsx")),
        "a 201-character label for a selection": ("/relabel_selection", ("0 1 2", "x" * 201)),
        "the map shared as a page": ("/share_map", ()),
    }


# --- the server and its memory ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python app.py`` in public mode with private folders; samples its resident memory."""

    def __init__(self, folder: Path, extra_env: dict[str, str]) -> None:
        self.gradio = folder / "gradio"
        self.tmp = folder / "tmp"
        self.cache = folder / "cache"
        for path in (self.gradio, self.tmp, self.cache):
            path.mkdir(parents=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        env = {
            **os.environ,
            "XLMR_DEMO_PUBLIC": "1",
            "GRADIO_TEMP_DIR": str(self.gradio),
            "TMPDIR": str(self.tmp),
            "XLMR_DEMO_CACHE": str(self.cache),
            "XLMR_DEMO_SESSION_IDLE_MINUTES": str(IDLE_SECONDS / 60),
            "HF_HUB_OFFLINE": "1",
            "GRADIO_SERVER_PORT": str(port),
            "GRADIO_SERVER_NAME": "127.0.0.1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            # every simulated visitor sends its own X-Forwarded-For: they all connect from 127.0.0.1
            "XLMR_DEMO_BEHIND_PROXY": "1",
            **extra_env,
        }
        self.log = (folder.parent / f"{folder.name}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not start: see {self.log.name}") from None
                time.sleep(0.25)
        self.peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.1)

    def reset_peak(self) -> None:
        self.peak = self.rss()

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def files(self) -> dict[str, list[str]]:
        """Files a visitor could have left: in Gradio's cache, the temp folder, and visitor caches."""
        places = {"Gradio cache": self.gradio, "temp folder": self.tmp}
        places.update({f"cache/{p}": self.cache / p for p in ("embeddings", "projections")})
        return {k: sorted(str(p.relative_to(v)) for p in v.rglob("*") if p.is_file() and p.name != ".owner")
                if v.exists() else [] for k, v in places.items()}  # fmt: skip

    def stop(self) -> None:
        self._stop.set()
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()


# --- visitors ----------------------------------------------------------------------------------------


def client(url: str, address: str):
    """A visitor at ``address`` (sent as X-Forwarded-For, which the server trusts in this test)."""
    from gradio_client import Client

    return Client(
        url, verbose=False, download_files=False, analytics_enabled=False, headers={"X-Forwarded-For": address}
    )


def normal_flow(url: str, data: Path, to_predict: Path, times: dict, errors: list, address: str) -> None:
    """One product manager's visit; each request's latency is added to ``times[step]``."""
    from gradio_client import handle_file

    visitor = client(url, address)
    calls = [
        ("upload", lambda: visitor.predict(handle_file(str(data)), api_name="/load_file")),
        ("check", lambda: visitor.predict("text", "label", "language", "(none)", api_name="/check_data")),
        ("train", lambda: visitor.predict("embedded", "by_language", 0, api_name="/train")),
        ("predict text", lambda: visitor.predict("¡Qué día tan bonito, me encanta!", api_name="/predict")),
        ("predict file", lambda: visitor.predict(handle_file(str(to_predict)), api_name="/predict_file")),
        ("map", lambda: visitor.predict("auto", "2", "language", True, api_name="/embedding_map")),
    ]
    for step, call in calls:
        start = time.perf_counter()
        try:
            call()
        except Exception as exc:  # a normal visitor's failure is a finding, not a crash of the bench
            errors.append(f"{step}: {str(exc)[:160]}")
            return
        times[step].append(time.perf_counter() - start)


def attacker(url: str, attacks: dict, done: threading.Event, seen: dict, offset: int, attackers: int) -> None:
    from gradio_client import handle_file

    visitor = client(url, f"10.66.0.{offset}")
    names = list(attacks)
    k = offset * len(names) // attackers  # spread over the list: a slow attack must not keep the last ones unsent
    while not done.is_set():
        name = names[k % len(names)]
        k += 1
        api, argument = attacks[name]
        args = (handle_file(str(argument)),) if isinstance(argument, Path) else argument
        start = time.perf_counter()
        try:
            visitor.predict(*args, api_name=api)
            outcome = "answered"
        except Exception as exc:
            outcome = str(exc).replace("\n", " ")[:110]
        seen[name].append((time.perf_counter() - start, outcome))


def attackers_process(url: str, attacks: dict, n: int, done, results) -> None:
    """The attackers, in a process of their own at the lowest priority.

    Real attackers send from their own machines; here they share the server's 2 cores, and their
    clients (building 20 MB bodies, re-sending refused 45 MB uploads) would otherwise take CPU that
    a remote attacker never takes from the server. The server still serves them at full priority.
    """
    os.nice(19)
    seen: dict[str, list] = defaultdict(list)
    stop = threading.Event()
    threading.Thread(target=lambda: (done.wait(), stop.set()), daemon=True).start()
    with ThreadPoolExecutor(n) as pool:
        for future in [pool.submit(attacker, url, attacks, stop, seen, i, n) for i in range(n)]:
            future.result()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results.put((dict(seen), usage.ru_utime + usage.ru_stime))


def run_phase(server: Server, flows: list[tuple[Path, Path]], attacks: dict | None, attackers: int) -> dict:
    times: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    server.reset_peak()
    start = time.perf_counter()
    server_cpu, client_cpu = server.cpu_seconds(), _own_cpu()
    context = multiprocessing.get_context("spawn")
    done, results = context.Event(), context.Queue()
    hostile = context.Process(target=attackers_process, args=(server.url, attacks, attackers, done, results))
    if attacks:
        hostile.start()
    with ThreadPoolExecutor(len(flows)) as pool:
        normal = [pool.submit(normal_flow, server.url, d, p, times, errors, f"10.0.0.{k}")
                  for k, (d, p) in enumerate(flows)]  # fmt: skip
        for future in normal:
            future.result()
    done.set()
    seen, attackers_cpu = results.get() if attacks else ({}, 0.0)
    if attacks:
        hostile.join()
    return {
        "times": times, "errors": errors, "seen": seen, "peak": server.peak, "seconds": time.perf_counter() - start,
        "server_cpu": server.cpu_seconds() - server_cpu, "client_cpu": _own_cpu() - client_cpu,
        "attackers_cpu": attackers_cpu,
    }  # fmt: skip


def _own_cpu() -> float:
    """CPU time of this process: the normal visitors' clients, which share the machine with the server."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def section(title: str, quiet: dict, loud: dict, left: dict, alive: bool) -> list[str]:
    """The tables of one server configuration: latency, resources, attacks, files left."""

    def all_times(phase):
        return [t for step in STEPS for t in phase["times"][step]]

    q, a = all_times(quiet), all_times(loud)
    lines = [
        f"## {title}",
        "",
        "Normal visitors' latency, seconds per request (queueing included):",
        "",
        "| step | quiet p50 | quiet p95 | under attack p50 | under attack p95 | ratio p95 |",
        "|---|---|---|---|---|---|",
    ]
    for step in STEPS:
        qs, ats = quiet["times"][step], loud["times"][step]
        if qs and ats:
            lines.append(
                f"| {step} | {statistics.median(qs):.2f} | {percentile(qs, 95):.2f} | {statistics.median(ats):.2f} "
                f"| {percentile(ats, 95):.2f} | {percentile(ats, 95) / percentile(qs, 95):.2f} |"
            )
    lines += [
        f"| **all requests** | **{statistics.median(q):.2f}** | **{percentile(q, 95):.2f}** | "
        f"**{statistics.median(a):.2f}** | **{percentile(a, 95):.2f}** | "
        f"**{percentile(a, 95) / percentile(q, 95):.2f}** |",
        "",
        "| | quiet | under attack |",
        "|---|---|---|",
        f"| wall time until every normal visitor was done (s) | {quiet['seconds']:.0f} | {loud['seconds']:.0f} |",
        f"| server's peak resident memory (GiB) | {quiet['peak'] / 2**30:.2f} | {loud['peak'] / 2**30:.2f} |",
        f"| server's CPU time (s) | {quiet['server_cpu']:.0f} | {loud['server_cpu']:.0f} |",
        f"| normal visitors' clients' CPU time, on the same 2 cores (s) | {quiet['client_cpu']:.0f} | "
        f"{loud['client_cpu']:.0f} |",
        f"| attackers' clients' CPU time, same cores, lowest priority (s) | | {loud['attackers_cpu']:.0f} |",
        f"| normal visitors' errors | {len(quiet['errors'])} | {len(loud['errors'])} |",
        f"| server still up afterwards | | {'yes' if alive else 'NO'} |",
        "",
    ]
    for phase, name in ((quiet, "quiet"), (loud, "under attack")):
        lines += [f"- {name} error: {e}" for e in phase["errors"]]
    lines += [
        "The attacks (what each attacker sent, round after round, during the second phase):",
        "",
        "| attack | times sent | median s | max s | what the visitor was told |",
        "|---|---|---|---|---|",
    ]
    for name, results in loud["seen"].items():
        seconds = [s for s, _ in results]
        said = Counter(outcome for _, outcome in results).most_common()
        told = "<br>".join(f"{n}x: {outcome}" for outcome, n in said).replace("|", "\\|")
        lines.append(f"| {name} | {len(results)} | {statistics.median(seconds):.2f} | {max(seconds):.2f} | {told} |")
    lines += [
        "",
        f"Left on disk {IDLE_SECONDS * 2} s after the last visitor (sessions go after {IDLE_SECONDS} idle s):",
        "",
        "| place | files |",
        "|---|---|",
    ]
    for place, files in left.items():
        lines.append(f"| {place} | {len(files)}{': ' + ', '.join(files[:5]) if files else ''} |")
    return [*lines, ""]


def header(args) -> list[str]:
    return [
        "# Load: the public app with normal visitors, alone and under attack (`bench/load.py`)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores "
        f"({_cpu_model()}); Python {platform.python_version()}; public mode, 2 heavy workers, "
        "one job per visitor, embedded model",
        f"- {args.visitors} normal visitors at once (each: 400 UMSAB tweets in 4 languages; upload, check, "
        f"train, predict a text, predict a 40-row file, map); under attack, {args.attackers} more visitors "
        "send the attacks below round after round until the normal visitors are done. Every visitor has "
        "an address of its own (X-Forwarded-For, trusted here); the attackers' clients run in a process "
        "of their own at the lowest priority, as a remote attacker's would not use the server's cores.",
        "- Aim (issue 10): p95 under attack <= 3x the quiet p95, peak memory < 4 GiB, no crash, nothing "
        "left on disk. The same server serves both phases of a configuration.",
        "",
    ]


CONFIGURATIONS = {
    "Public mode's defaults": {},
    # what the app itself costs when attackers are not throttled at the door
    "Without the per-address request limit (attackers at full speed)": {
        "XLMR_DEMO_VISITOR_REQUESTS": "1000000",
        "XLMR_DEMO_VISITOR_MB": "1000000",
    },
}


def measure(folder: Path, env: dict[str, str], flows: list, args) -> tuple[dict, dict, dict, bool]:
    """Quiet, then under attack, on one server started with ``env``; and the files left afterwards."""
    server = Server(folder, env)
    try:
        print("  warming up (one visitor alone) and training the attackers' classifier...", file=sys.stderr)
        normal_flow(server.url, *flows[0], defaultdict(list), [], "10.1.0.1")
        from gradio_client import handle_file

        trainer = client(server.url, "10.1.0.2")
        trainer.predict(handle_file(str(flows[0][0])), api_name="/load_file")
        trainer.predict("text", "label", "language", "(none)", api_name="/check_data")
        outputs = trainer.predict("embedded", "by_language", 0, api_name="/train")
        zipped = next(o for o in outputs if isinstance(o, dict) and str(o.get("url")).endswith("classifier.zip"))
        classifier_zip = folder / "classifier.zip"
        with urllib.request.urlopen(zipped["url"]) as response:
            classifier_zip.write_bytes(response.read())
        attacks = attack_files(folder, classifier_zip)
        print(f"  quiet: {args.visitors} visitors...", file=sys.stderr)
        quiet = run_phase(server, flows[: args.visitors], None, 0)
        print(f"  under attack: {args.visitors} visitors + {args.attackers} attackers...", file=sys.stderr)
        loud = run_phase(server, flows[args.visitors :], attacks, args.attackers)
        alive = server.alive()
        time.sleep(IDLE_SECONDS * 2)
        return quiet, loud, server.files(), alive
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=14)
    parser.add_argument("--attackers", type=int, default=6)
    args = parser.parse_args()
    if not UMSAB.is_dir():
        sys.exit(f"UMSAB not found at {UMSAB}")
    lines = header(args)
    with tempfile.TemporaryDirectory(prefix="xlmr_load_") as tmp:
        folder = Path(tmp)
        flows = []
        for k in range(2 * args.visitors):  # new data for every visitor of both phases
            rows = umsab_rows("train", 100 * k % 1700, 100)  # 1,838 tweets per language: slices repeat
            data = write_csv(folder / f"visitor{k}.csv", ["text", "label", "language"], rows)
            to_predict = write_csv(folder / f"new{k}.csv", ["text"], [[r[0]] for r in umsab_rows("test", 10 * k, 10)])
            flows.append((data, to_predict))
        for k, (title, env) in enumerate(CONFIGURATIONS.items()):
            print(f"{title}:", file=sys.stderr)
            quiet, loud, left, alive = measure(folder / f"server{k}", env, flows, args)
            lines += section(title, quiet, loud, left, alive)
    text = "\n".join(lines)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
