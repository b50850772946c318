"""`cargo xtask bench lambda`: one query over >= 200 segments in S3 through the Lambda
executor, with 8 and then 32 worker processes, on the local rig xtask starts (moto for S3,
cargo-lambda's emulator for the Invoke API). Reports wall time of the first query after
the workers start (cold) and the best of three after (warm), the workers' peak RSS, and
checks every answer's count against the local executor's. Runs in the rig's venv (boto3).
"""

import argparse
import json
import os
import subprocess
import time
import urllib.request

import boto3

QUERY = "| top 10 srcaddr"
RUNS = 3


def serve(args, extra):
    """A gateway on a free port; returns (process, url)."""
    proc = subprocess.Popen(
        [args.sketchlake, "serve", "--listen", "127.0.0.1:0", "--no-auth", "--ui", "/nonexistent", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    for line in proc.stdout:
        if "listening on" in line:
            return proc, line.split("listening on ")[1].strip()
    raise SystemExit("the gateway did not start")


def query(url, q):
    body = json.dumps({"q": q}).encode()
    req = urllib.request.Request(f"{url}/api/v1/query", body, {"content-type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        answer = json.load(r)
    return time.perf_counter() - start, answer


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sketchlake", required=True)
    p.add_argument("--worker", required=True)
    p.add_argument("--lake", required=True, help="a lake ingested into segments")
    p.add_argument("--lambda-api", required=True)
    args = p.parse_args()

    segments_dir = os.path.join(args.lake, ".sketchlake", "segments")
    names = sorted(os.listdir(segments_dir))
    segments = [n for n in names if n.endswith(".ndjson.gz")]
    assert len(segments) >= 200, f"only {len(segments)} segments"
    bucket = f"bench-{os.getpid()}"
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    s3.create_bucket(Bucket=bucket)
    for name in names:
        if name.endswith(".ndjson.gz") or name.endswith(".ndjson.gz.idx"):
            s3.upload_file(os.path.join(segments_dir, name), bucket, f"lake/segments/{name}")
    size = sum(os.path.getsize(os.path.join(segments_dir, n)) for n in segments)
    print(f"{len(segments)} segments, {size / 2**20:.0f} MiB compressed, in s3://{bucket}/lake")

    local, local_url = serve(args, ["--data", args.lake])
    _, expected = query(local_url, QUERY)
    on_disk = min(query(local_url, QUERY)[0] for _ in range(RUNS))
    local.terminate()
    print(f"local pool, same segments on disk: {on_disk:.2f} s")

    rows = []
    for n in (8, 32):
        env = dict(os.environ,
                   AWS_LAMBDA_RUNTIME_API=f"{args.lambda_api}/.rt/worker",
                   AWS_LAMBDA_FUNCTION_NAME="worker", AWS_LAMBDA_FUNCTION_VERSION="1",
                   AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1769", RUST_LOG="warn")
        workers = [subprocess.Popen([args.worker], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(n)]
        gateway, url = serve(args, ["--data", f"s3://{bucket}/lake", "--executor", "lambda",
                                    "--function", "worker", "--lambda-endpoint", args.lambda_api,
                                    "--batch-mib", "1"])
        cold, answer = query(url, QUERY)
        assert answer["matched"] == expected["matched"], (answer["matched"], expected["matched"])
        assert not answer["stats"]["errors"], answer["stats"]["errors"]
        warm = min(query(url, QUERY)[0] for _ in range(RUNS))
        rss = max(peak_rss_mib(w.pid) for w in workers)
        gateway.terminate()
        for w in workers:
            w.terminate()
        rows.append((n, cold, warm, rss))
        print(f"{n:>3} workers: cold {cold:.2f} s, warm {warm:.2f} s, worker peak RSS {rss:.1f} MiB")

    print("\n| worker processes | first query (cold) | warm (best of 3) | worker peak RSS |")
    print("|---|---|---|---|")
    print(f"| local pool, disk | | {on_disk:.2f} s | |")
    for n, cold, warm, rss in rows:
        print(f"| {n} | {cold:.2f} s | {warm:.2f} s | {rss:.1f} MiB |")
    print(f"\n{len(segments)} segments, {expected['matched']:,} events, one invocation per segment; "
          f"8→32 workers: {rows[0][2] / rows[1][2]:.2f}x faster warm")


if __name__ == "__main__":
    main()
