#!/usr/bin/env bash
# Make sure a headless-capable Chromium is installed (Debian's `chromium` package) and print its
# path. Used by the web-page test; safe to run repeatedly. Exit 0 and the path on stdout when
# Chromium is there (or was installed), non-zero with the reason on stderr when it cannot be.
set -u
find_chromium() {
  for c in "${HELIX_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser "$(command -v chromium 2>/dev/null)" \
           "$(command -v chromium-browser 2>/dev/null)" "$(command -v google-chrome 2>/dev/null)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}
if path=$(find_chromium); then echo "$path"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: chromium is not installed and there is no apt-get to install it" >&2; exit 3
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "ensure_chromium: chromium is not installed and installing it needs root (apt-get install chromium)" >&2; exit 3
  fi
fi
echo "ensure_chromium: installing Debian's chromium package (apt-get) ..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2 || { echo "ensure_chromium: apt-get update failed" >&2; exit 4; }
$SUDO apt-get install -y -qq --no-install-recommends chromium >&2 || { echo "ensure_chromium: apt-get install chromium failed" >&2; exit 4; }
if path=$(find_chromium); then echo "$path"; exit 0; fi
echo "ensure_chromium: chromium still not found after installing" >&2
exit 5
