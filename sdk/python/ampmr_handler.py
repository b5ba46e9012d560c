"""Write an ampmr call handler in Python.

A handler is a long-lived process that an ampmr worker starts once per slot
(``ampmr-worker --handler NAME=COMMAND``) and feeds one request at a time, so
whatever it loads at start (a graph, a model, a table) is loaded once::

    import ampmr_handler

    GRAPH = load_graph()                 # once per process

    def shortest_path(request: bytes) -> bytes:
        src, dst = request.split()
        if src not in GRAPH:
            raise ampmr_handler.HandlerError(ampmr_handler.NOT_FOUND, "no node %r" % src)
        return route(GRAPH, src, dst)

    ampmr_handler.serve(shortest_path)

The frame protocol (also in the project README, "Calls"), for handlers in
other languages:

* requests arrive on file descriptor 3: a 4-byte big-endian length N, then N
  bytes of payload;
* answers go out on file descriptor 4: a 4-byte big-endian length N (N >= 1),
  then one status byte (0 OK, else a canonical gRPC status code such as 3
  INVALID_ARGUMENT, 5 NOT_FOUND, 13 INTERNAL), then N-1 bytes: the payload if
  OK, else the error message (UTF-8);
* one request at a time: the next request comes only after the answer;
* end of file on fd 3 means "exit now" (the worker is recycling the process
  or stopping). stdout and stderr go to the worker's log, so print() is fine
  for diagnostics; stdin is /dev/null.

Only the standard library is used.
"""

import os
import struct
import sys
import traceback

__all__ = [
    "HandlerError", "serve",
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
]

# Canonical gRPC status codes.
OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16

REQUEST_FD = 3
ANSWER_FD = 4
_HEADER = struct.Struct(">I")
_ANSWER_HEAD = struct.Struct(">IB")


class HandlerError(Exception):
    """An error answer with a chosen status code (INTERNAL if raised bare)."""

    def __init__(self, status, message=""):
        super().__init__(message)
        self.status = status
        self.message = message


def _code_number(value):
    """An int status code from an int or a grpc.StatusCode, else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        pair = getattr(value, "value", None)  # grpc.StatusCode.X.value == (int, str)
        if not (isinstance(pair, tuple) and pair and isinstance(pair[0], int)):
            return None
        number = pair[0]
    return number if 0 < number <= UNAUTHENTICATED else None


def _status_of(exc):
    """The status code an exception carries: HandlerError.status, any
    exception's `status` (an int or a grpc.StatusCode), or a grpc.StatusCode
    `code`; else INTERNAL."""
    number = _code_number(getattr(exc, "status", None))
    if number is None and not callable(getattr(exc, "code", None)):
        code = getattr(exc, "code", None)
        number = _code_number(code) if not isinstance(code, int) else None
    return INTERNAL if number is None else number


def _message_of(exc):
    if isinstance(exc, HandlerError):
        return exc.message
    text = str(exc)
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


class _Reader:
    """Reads frames from a descriptor. One request is in flight at a time, so
    a single read usually returns the whole frame."""

    def __init__(self, fd):
        self._fd = fd
        self._buf = b""

    def read_exact(self, n, at_start=False):
        """n bytes, or None at end of file before a frame begins."""
        if len(self._buf) < n:
            parts, have = [self._buf], len(self._buf)
            while have < n:
                chunk = os.read(self._fd, max(65536, n - have))
                if not chunk:
                    if at_start and have == 0:
                        return None
                    raise EOFError("fd %d closed in the middle of a request" % self._fd)
                parts.append(chunk)
                have += len(chunk)
            self._buf = b"".join(parts)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def answer_frame(status, body):
    """The bytes of one answer frame."""
    return _ANSWER_HEAD.pack(len(body) + 1, status) + body


def serve(fn, request_fd=REQUEST_FD, answer_fd=ANSWER_FD):
    """Answers requests with fn(payload: bytes) -> bytes until end of file.

    An exception raised by fn becomes an error answer: HandlerError (or any
    exception with an int or grpc.StatusCode `status`, or a grpc.StatusCode
    `code`) keeps its status,
    anything else is INTERNAL (13) with its traceback printed to stderr. The
    process keeps serving after an error. A return value that is a str is
    sent UTF-8 encoded; None is sent as no bytes.
    """
    reader = _Reader(request_fd)
    while True:
        header = reader.read_exact(4, at_start=True)
        if header is None:
            return
        (length,) = _HEADER.unpack(header)
        payload = reader.read_exact(length) if length else b""
        try:
            out = fn(payload)
            if out is None:
                out = b""
            elif isinstance(out, str):
                out = out.encode("utf-8")
            elif not isinstance(out, bytes):
                out = bytes(out)
            frame = answer_frame(OK, out)
        except Exception as exc:  # pylint: disable=broad-except
            status = _status_of(exc)
            if status == INTERNAL and not isinstance(exc, HandlerError):
                traceback.print_exc(file=sys.stderr)
                sys.stderr.flush()
            frame = answer_frame(status, _message_of(exc).encode("utf-8", "replace"))
        _write_all(answer_fd, frame)
