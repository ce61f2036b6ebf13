#!/usr/bin/env bash
# Installs Debian's headless Chromium for the browser tests when it is missing.
# Never fails the build: where it cannot be installed, the browser tests skip and say why.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium not installed and apt-get unavailable (not root or not Debian): browser tests will be skipped"
  exit 0
fi
echo "installing Debian's chromium for the browser tests..."
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
  || echo "chromium could not be installed: browser tests will be skipped"
exit 0
