#!/usr/bin/env bash
# System packages the test suite talks to as real peers: redis-server (Redis tests), kannel
# (bearerbox/smsbox/fakesmsc for the Kannel SMS channel), chromium (dashboard browser tests) and
# a CJK font, so the zh-CN texts in browser screenshots are not empty boxes.
# Installs only what is missing; safe to run again. Needs root and Debian's apt (CI machines).
set -euo pipefail

want=()
command -v redis-server >/dev/null || want+=(redis-server)
{ command -v bearerbox >/dev/null && { command -v fakesmsc >/dev/null || [ -x /usr/lib/kannel/test/fakesmsc ]; }; } \
  || want+=(kannel kannel-extras)
command -v chromium >/dev/null || want+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy\|noto sans cjk" || want+=(fonts-wqy-zenhei)

if [ ${#want[@]} -gt 0 ]; then
  echo "system-deps: installing ${want[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${want[@]}" >&2
fi
