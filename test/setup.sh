#!/usr/bin/env bash
# The real peers and fixture tools the tests drive: DCMTK, GDCM, OpenJPH, PVRG-JPEG (JPEG with restart
# intervals and 4:2:0, test/transcode/jpeg-dct.test.ts), pydicom/numpy, and what builds
# the librdkafka mock cluster: librdkafka-dev, gcc, pkg-config, and chromium for the status page (Debian).
# Installs what is missing when run as root (CI, the edge PC); otherwise says what to install.
set -euo pipefail
PACKAGES="dcmtk libgdcm-tools openjph-tools pvrg-jpeg dicom3tools python3-pydicom python3-numpy librdkafka-dev gcc pkg-config chromium"
missing=()
for tool in storescu echoscu dcmsend dcmdump dcmodify dump2dcm dcmcjpeg dcmcjpls dcmcrle gdcmconv gdcminfo ojph_compress ojph_expand pvrg-jpeg dciodvfy; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
/usr/bin/python3 -c "import pydicom, numpy" >/dev/null 2>&1 || missing+=("python3-pydicom/numpy")
# The status page is checked in headless Chromium (test/integration/ops.test.ts, playwright-core).
[ -x /usr/bin/chromium ] || missing+=("chromium")
# The librdkafka mock cluster (test/fixtures/kafka-mock) is built by the outbox tests with gcc.
for tool in gcc pkg-config; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
pkg-config --exists rdkafka 2>/dev/null || missing+=("librdkafka-dev")
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test/setup.sh: installing test peers (missing: ${missing[*]})" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $PACKAGES >/dev/null
else
  echo "test/setup.sh: missing ${missing[*]}; install the Debian packages: $PACKAGES" >&2
  exit 1
fi
