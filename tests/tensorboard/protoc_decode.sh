#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Format test of attn::io::SummaryWriter, independent of attn's code: events_tool writes a known
# event file, splits it into its TFRecord payloads (both masked CRC-32Cs of each record checked by
# tests/format_readers.hpp), and Debian's `protoc --decode_raw` decodes every payload. Its text
# must match the field numbers of tensorflow/core/util/event.proto and
# tensorflow/core/framework/summary.proto exactly (wall times and PNG bytes aside): the
# brain.Event:2 version record, a scalar, an image (height, width, colorspace 3, PNG bytes) and
# a histogram (min, max, num, sum, sum_squares, bucket limits, bucket counts).
#
#   tests/tensorboard/protoc_decode.sh EVENTS_TOOL [WORK_DIR]
#
# Needs protoc (Debian: apt-get install protobuf-compiler); scripts/test.sh installs it.
# (TensorBoard itself is not installable on the build machine, hence this independent check.)
set -euo pipefail

tool="${1:?usage: protoc_decode.sh EVENTS_TOOL [WORK_DIR]}"
work="${2:-$(mktemp -d "${TMPDIR:-/tmp}/attn_tensorboard.XXXXXX")}"
if ! command -v protoc >/dev/null 2>&1; then
    echo "FAIL: protoc is not installed (Debian: apt-get install protobuf-compiler); scripts/test.sh installs it" >&2
    exit 1
fi
rm -rf "$work"
mkdir -p "$work/run" "$work/records"

file="$("$tool" write "$work/run")"
case "$(basename "$file")" in
    events.out.tfevents.[0-9]*.*) ;;
    *) echo "FAIL: unexpected event file name: $file" >&2; exit 1 ;;
esac
count="$("$tool" split "$file" "$work/records")"
if [ "$count" != 4 ]; then
    echo "FAIL: expected 4 records, found $count" >&2
    exit 1
fi

decoded="$work/decoded.txt"
: >"$decoded"
for k in 0 1 2 3; do
    echo "# record $k" >>"$decoded"
    protoc --decode_raw <"$work/records/record_$k.bin" >>"$decoded"
done

# Wall times are doubles of seconds since 1970: 0x41d... from 2004 to 2038. The PNG bytes must
# start with the PNG signature; the rest of them is checked by the unit tests' decoder.
normalised="$work/normalised.txt"
sed -E -e 's/^1: 0x41d[0-9a-f]{13}$/1: WALL_TIME/' \
       -e 's/^( *4: )"\\211PNG\\r\\n\\032\\n.*"$/\1PNG_BYTES/' "$decoded" >"$normalised"

expected="$work/expected.txt"
cat >"$expected" <<'TEXT'
# record 0
1: WALL_TIME
3: "brain.Event:2"
# record 1
1: WALL_TIME
2: 3
5 {
  1 {
    1: "loss"
    2: 0x3f000000
  }
}
# record 2
1: WALL_TIME
2: 4
5 {
  1 {
    1: "attention/layer0/head_1"
    4 {
      1: 20
      2: 30
      3: 3
      4: PNG_BYTES
    }
  }
}
# record 3
1: WALL_TIME
2: 5
5 {
  1 {
    1: "weights/layer0"
    5 {
      1: 0x3ff0000000000000
      2: 0x4010000000000000
      3: 0x4010000000000000
      4: 0x4024000000000000
      5: 0x403e000000000000
      6: "\000\000\000\000\000\000\360?\000\000\000\000\000\000\000@\000\000\000\000\000\000\010@\000\000\000\000\000\000\020@"
      7: "\000\000\000\000\000\000\000\000\000\000\000\000\000\000\360?\000\000\000\000\000\000\360?\000\000\000\000\000\000\000@"
    }
  }
}
TEXT
# What the expected text says, in words: event.wall_time = 1 (double), step = 2, file_version
# = 3, summary = 5; Summary.value = 1; Value.tag = 1, simple_value = 2 (0.5f = 0x3f000000),
# image = 4 (height 2 rows · 10 px, width 3 columns · 10 px, colorspace 3 = RGB), histo = 5
# (min 1, max 4, num 4, sum 10, sum_squares 30; bucket_limit 1, 2, 3, 4 and bucket 0, 1, 1, 2
# as packed little-endian doubles).
if ! diff -u "$expected" "$normalised"; then
    echo "FAIL: protoc --decode_raw output differs from the expected fields (full output: $decoded)" >&2
    exit 1
fi
echo "PASS: $count records, CRCs checked, protoc --decode_raw fields as expected ($decoded)"
