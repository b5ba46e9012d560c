#!/usr/bin/env python3
"""Word count reducer for ampmr (Hadoop Streaming convention).

Reads "word<TAB>count" lines sorted by word on stdin and writes one
"word<TAB>total" line per word. Also works as a combiner.
"""
import sys


def buffered_stdout():
    # Big writes even when PYTHONUNBUFFERED is set: one system call per 64 KiB
    # of output, not per line.
    return open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)


def main():
    out = buffered_stdout()
    current, total = None, 0
    for line in sys.stdin.buffer:
        word, _, count = line.rstrip(b"\n").partition(b"\t")
        if word != current:
            if current is not None:
                out.write(b"%s\t%d\n" % (current, total))
            current, total = word, 0
        total += int(count)
    if current is not None:
        out.write(b"%s\t%d\n" % (current, total))
    out.flush()


if __name__ == "__main__":
    main()
