#!/usr/bin/env bash
# Install Java 17 from Debian's packages for the Spark tests (tests/test_spark.py) and python -m samskaping.spark.
#
# pyspark 4.1 runs on Java 17 or 21. Safe to run again: it does nothing when a
# java of version 17 or newer is already on PATH. Needs root (or sudo) for apt-get.
set -euo pipefail

java_major() {
    # "openjdk version "17.0.15" 2025-04-15" -> 17; old "1.8.0_412" -> 1
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

if command -v java >/dev/null 2>&1 && [[ "$(java_major)" -ge 17 ]]; then
    echo "java already installed: $(java -version 2>&1 | head -n 1)"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: installing Java needs root; rerun as root or install sudo" >&2
        exit 2
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends openjdk-17-jre-headless

if ! command -v java >/dev/null 2>&1 || [[ "$(java_major)" -lt 17 ]]; then
    echo "error: apt-get finished but no Java 17 is on PATH; check 'update-alternatives --config java'" >&2
    exit 1
fi
echo "installed: $(java -version 2>&1 | head -n 1)"
