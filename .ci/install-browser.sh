#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (tests/test_browser.py).
#
# Playwright drives this system browser through executable_path; it never
# downloads a browser of its own. Safe to run again: it does nothing when
# /usr/bin/chromium is already there. Needs root (or sudo) for apt-get.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: installing chromium needs root; rerun as root or install sudo" >&2
        exit 2
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core

if [[ ! -x "$CHROMIUM" ]]; then
    echo "error: apt-get finished but $CHROMIUM is missing; check the chromium package of this Debian release" >&2
    exit 1
fi
echo "installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
