#!/usr/bin/python3
"""A Python client for the ampmr master, using Debian's python3-grpcio.

The gRPC stubs are generated at run time from the project's proto/ into a
temporary directory (protoc --python_out, plus grpc_python_plugin for the
service), so nothing generated is committed.

    client.py [--master ADDR] job --input PATH... --output DIR [--mapper SPEC]
              [--reducer SPEC] [--combiner SPEC] [--reduces R]
        submits a job, prints its progress as it changes, then its counters;
        exits 0 only if the job succeeded
    client.py [--master ADDR] call --handler NAME [--timeout SECS]
              [--idempotent] [--repeat N] [--concurrency C] PAYLOAD
        makes N calls (C at a time) and prints each answer, or the status and
        message of each failure; exits 0 only if all succeeded
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
GRPC_PLUGIN = "/usr/bin/grpc_python_plugin"


def load_stubs():
    """Generates ampmr/v1/job_pb2{,_grpc}.py from proto/ and imports them."""
    out = tempfile.mkdtemp(prefix="ampmr-stubs-")
    try:
        subprocess.run(
            ["protoc", "--proto_path=" + PROTO_DIR, "--python_out=" + out,
             "--grpc_out=" + out, "--plugin=protoc-gen-grpc=" + GRPC_PLUGIN,
             os.path.join(PROTO_DIR, "ampmr", "v1", "job.proto")],
            check=True)
        sys.path.insert(0, out)
        from ampmr.v1 import job_pb2, job_pb2_grpc  # pylint: disable=import-outside-toplevel
    finally:
        # The modules are loaded; the files are no longer needed.
        shutil.rmtree(out, ignore_errors=True)
    return job_pb2, job_pb2_grpc


def progress_line(pb, status):
    state = pb.JobState.Name(status.state)
    return "%s %-9s map %d/%d (running %d)  reduce %d/%d (running %d)" % (
        status.job_id, state, status.map.done, status.map.total, status.map.running,
        status.reduce.done, status.reduce.total, status.reduce.running)


def run_job(args, pb, stub):
    spec = pb.JobSpec(inputs=[os.path.abspath(p) for p in args.input],
                      output=os.path.abspath(args.output), mapper=args.mapper,
                      reducer=args.reducer, combiner=args.combiner, reduces=args.reduces)
    job_id = stub.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=60).job_id
    print("submitted", job_id, flush=True)
    last = None
    final = None
    # The stream's first event is the job's state now; it ends after the final one.
    for event in stub.WatchJob(pb.WatchJobRequest(job_id=job_id)):
        line = progress_line(pb, event.status)
        if line != last:
            print(line, flush=True)
            last = line
        final = event.status
    for name in sorted(final.counters):
        print("  %s = %d" % (name, final.counters[name]))
    if final.state != pb.SUCCEEDED:
        print("job %s ended %s: %s" % (job_id, pb.JobState.Name(final.state), final.error),
              file=sys.stderr)
        return 1
    print("output in", spec.output)
    return 0


def run_calls(args, pb, stub, grpc):
    request = pb.CallRequest(handler=args.handler, payload=args.payload.encode(),
                             timeout_seconds=args.timeout, idempotent=args.idempotent)
    # The master enforces the timeout; this deadline only guards against a
    # master that never answers.
    deadline = (args.timeout or 30) + 10

    def one(i):
        start = time.monotonic()
        try:
            answer = stub.Call(request, timeout=deadline).payload
            return i, True, answer.decode("utf-8", "replace"), time.monotonic() - start
        except grpc.RpcError as err:
            text = "%s: %s" % (err.code().name, err.details())
            return i, False, text, time.monotonic() - start

    failures = 0
    with futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        for i, ok, text, secs in pool.map(one, range(args.repeat)):
            if ok:
                print("%d ok %.3fs %s" % (i, secs, text), flush=True)
            else:
                failures += 1
                print("%d failed %.3fs %s" % (i, secs, text), file=sys.stderr, flush=True)
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description="Drive an ampmr master from Python.")
    parser.add_argument("--master", default=os.environ.get("AMPMR_MASTER", "127.0.0.1:7070"))
    sub = parser.add_subparsers(dest="command", required=True)
    job = sub.add_parser("job", help="submit a job and watch it")
    job.add_argument("--input", action="append", required=True)
    job.add_argument("--output", required=True)
    job.add_argument("--mapper", default="builtin:wordcount")
    job.add_argument("--reducer", default="builtin:sum")
    job.add_argument("--combiner", default="")
    job.add_argument("--reduces", type=int, default=0)
    call = sub.add_parser("call", help="call a worker handler")
    call.add_argument("--handler", required=True)
    call.add_argument("--timeout", type=float, default=0, help="seconds; 0: the master's 30")
    call.add_argument("--idempotent", action="store_true")
    call.add_argument("--repeat", type=int, default=1)
    call.add_argument("--concurrency", type=int, default=1)
    call.add_argument("payload")
    args = parser.parse_args()

    import grpc  # pylint: disable=import-outside-toplevel
    pb, pb_grpc = load_stubs()
    with grpc.insecure_channel(args.master) as channel:
        stub = pb_grpc.JobServiceStub(channel)
        if args.command == "job":
            return run_job(args, pb, stub)
        return run_calls(args, pb, stub, grpc)


if __name__ == "__main__":
    sys.exit(main())
