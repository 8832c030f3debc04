#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright cannot download its own browser here),
# with fonts for the pages' two languages (Latin and Simplified Chinese).
set -euo pipefail
PACKAGES=(chromium fonts-dejavu-core fonts-wqy-zenhei)
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || missing+=(fonts-wqy-zenhei)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  echo "Missing for the browser tests: ${missing[*]} (apt-get install ${PACKAGES[*]})." >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "Installing Debian's ${missing[*]} for the browser tests..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
/usr/bin/chromium --version
