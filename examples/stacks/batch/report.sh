#!/bin/sh
# Count lines and words of the input and write a small report.
set -eu
out="${REPORT_DIR:-/tmp}/report.txt"
{
  echo "job: ${JOB_NAME:-unnamed}"
  echo "lines: $(wc -l < /job/input.txt)"
  echo "words: $(wc -w < /job/input.txt)"
} > "$out"
cat "$out"
