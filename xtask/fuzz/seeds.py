"""Seeds the fuzz corpora (`cargo xtask fuzz`): pieces of the real logs in
../shared/data/real for the readers, the documented queries, the example and Sigma rules,
and the index sidecars of a lake ingested from real logs. Each seed is named by the SHA-1
of its bytes, as libFuzzer names what it adds, so seeding twice adds nothing.

usage: seeds.py --real DIR --root REPO --sidecars DIR --out CORPUS_ROOT
"""

import argparse
import gzip
import hashlib
import re
from pathlib import Path

SEP = b"\xff"
# A seed no longer than this keeps each run fast; the fuzzer grows inputs past it.
MAX_SEED = 8 * 1024


def read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def line_pieces(path: Path, lines: int = 24, pieces: int = 3) -> list[bytes]:
    """Runs of whole lines from the start, the middle and the end of a file."""
    text = read(path).split(b"\n")
    starts = sorted({0, max(0, len(text) // 2 - lines // 2), max(0, len(text) - lines)})
    out = []
    for start in starts[:pieces]:
        piece = b"\n".join(text[start : start + lines])[:MAX_SEED]
        if piece.strip():
            out.append(piece)
    return out


def with_header(path: Path, header_lines: int, lines: int = 24) -> list[bytes]:
    """A column format's header, then runs of rows from the start and the middle."""
    text = read(path).split(b"\n")
    header = text[:header_lines]
    rows = text[header_lines:]
    out = []
    for start in {0, max(0, len(rows) // 2)}:
        out.append(b"\n".join(header + rows[start : start + lines])[:MAX_SEED])
    return out


def documented_queries(root: Path) -> list[bytes]:
    """Every query in the docs (code spans starting with a search or a pipe) and rules."""
    queries = set()
    for doc in ["README.md", "docs/QUERY.md", "docs/DETECTIONS.md", "docs/EMBEDDING.md"]:
        for span in re.findall(r"`([^`\n]+)`", (root / doc).read_text()):
            queries.add(span.replace("\\|", "|"))
    for rule in (root / "rules/examples").glob("*.yml"):
        for m in re.finditer(r"^query:\s*(.+)$", rule.read_text(), re.M):
            queries.add(m.group(1).strip().strip("'\""))
    return sorted(q.encode() for q in queries if q.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", type=Path, required=True)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--sidecars", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    real = args.real

    def files(pattern: str) -> list[Path]:
        found = sorted(real.glob(pattern))
        if not found:
            raise SystemExit(f"seeds.py: no {pattern} under {real}")
        return found

    ndjson = [
        *files("cowrie-honeypot/cowrie.json.2018-05-0*.gz")[:2],
        *files("panther-test-events/AWS_*.ndjson")[:4],
        *files("panther-test-events/Okta*.ndjson*")[:1],
        *files("zeek-wrccdc/zeek-json/*")[:3],
        *files("otrf-zeek/lsass/zeek/*.log")[:3],
        *files("suricata-eve-samples/*/*.json")[:3],
        *files("stratus-cloudtrail/all_detonations.ndjson.gz"),
    ]
    queries = documented_queries(args.root)
    seeds: dict[str, list[bytes]] = {name: [] for name in TARGETS}
    for path in ndjson:
        seeds["ndjson"] += line_pieces(path)
        seeds["ndjson_lines"] += [SEP + piece for piece in line_pieces(path, 70, 1)]
    for i, piece in enumerate(line_pieces(files("cowrie-honeypot/cowrie.json.2018-05-06.gz")[0], 70)):
        seeds["ndjson_lines"] += [q + SEP + piece for q in queries[i::9][:20]]
    for path in files("stratus-cloudtrail/*.json"):
        seeds["json"].append(read(path)[: 4 * MAX_SEED])
    for path in files("cicids2017-improved-sample/*.csv*")[:6] + files("otrf-aws/*.csv.gz"):
        seeds["csv"] += with_header(path, 1)
    for path in files("stratosphere-zeek/*/*.log*")[:12]:
        seeds["zeek"] += with_header(path, 8)
    for path in files("vpcflow-fixtures/*.log"):
        seeds["vpcflow"] += line_pieces(path)
        seeds["vpcflow"].append(
            b"version account-id interface-id srcaddr dstaddr srcport dstport protocol "
            b"packets bytes start end action log-status\n" + line_pieces(path, 12, 1)[0]
        )
    for path in files("apache-access-*/*.gz") + files("loghub/Apache/Apache_2k.log.gz"):
        seeds["access_log"] += line_pieces(path)
    seeds["query"] = queries
    events = line_pieces(files("cowrie-honeypot/cowrie.json.2018-05-07.gz")[0], 12, 2)
    events += line_pieces(files("stratus-cloudtrail/all_detonations.ndjson.gz")[0], 4, 1)
    for i, q in enumerate(queries):
        seeds["frame"].append(b"\x02" + q + SEP + events[i % len(events)] + SEP)
    for text in [p for path in ndjson[:6] for p in line_pieces(path, 30, 1)]:
        packed = gzip.compress(text, mtime=0)
        seeds["gzip"] += [b"\x00" + packed, b"\x00" + packed + gzip.compress(b"\n", mtime=0)]
        seeds["gzip"].append(b"\x01" + text + SEP + b"\x80")
    for sidecar in sorted(args.sidecars.rglob("*.idx")):
        stored = sidecar.read_bytes()
        seeds["sidecar"] += [b"\x00" + stored, b"\x01" + gzip.decompress(stored[1:])]
    seeds["rule"] = [p.read_bytes() for p in sorted((args.root / "rules/examples").glob("*.yml"))]
    seeds["sigma"] = [
        p.read_bytes() for p in files("sigma/**/*.yml") if p.stat().st_size <= MAX_SEED
    ]
    for target, inputs in seeds.items():
        if not inputs:
            raise SystemExit(f"seeds.py: no seeds for {target}")
        folder = args.out / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
        print(f"  {target}: {len(inputs)} seeds")


TARGETS = [
    "query", "frame", "sidecar", "ndjson", "ndjson_lines", "json", "csv", "zeek",
    "vpcflow", "access_log", "gzip", "rule", "sigma",
]

if __name__ == "__main__":
    main()
