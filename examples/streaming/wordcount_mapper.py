#!/usr/bin/env python3
"""Word count mapper for ampmr (Hadoop Streaming convention).

Reads lines on stdin and writes "word<TAB>1" for every word, where a word is
a maximal run of ASCII letters (case kept), as builtin:wordcount counts them.
Input is handled as bytes, so text in any encoding passes through.

At the end it reports two user counters on stderr:
  reporter:counter:wordcount,lines,N   and   reporter:counter:wordcount,words,N
"""
import re
import sys

WORD = re.compile(rb"[A-Za-z]+")


def buffered_stdout():
    # Big writes even when PYTHONUNBUFFERED is set: one system call per 64 KiB
    # of output, not per line.
    return open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)


def main():
    out = buffered_stdout()
    lines = words = 0
    for line in sys.stdin.buffer:
        lines += 1
        found = WORD.findall(line)
        words += len(found)
        for word in found:
            out.write(word + b"\t1\n")
    out.flush()
    sys.stderr.write(f"reporter:counter:wordcount,lines,{lines}\n")
    sys.stderr.write(f"reporter:counter:wordcount,words,{words}\n")


if __name__ == "__main__":
    main()
