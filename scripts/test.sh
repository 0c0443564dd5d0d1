#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests start for real
# (ffmpeg, the three browser engines: Chromium, Firefox ESR and WebKitGTK's MiniBrowser with its
# WebDriver and an Xvfb, PulseAudio for their sound, GStreamer's RTSP server, nats-server,
# haproxy) when missing, then npm ci and npm test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
[ -x /usr/bin/WebKitWebDriver ] || missing+=(webkit2gtk-driver)
[ -x /usr/bin/Xvfb ] || missing+=(xvfb)
[ -x /usr/bin/pulseaudio ] || missing+=(pulseaudio)
[ -x /usr/sbin/nats-server ] || missing+=(nats-server)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if ! /usr/bin/python3 - <<'PY' >/dev/null 2>&1
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer
Gst.init(None)
# The test cameras: pictures (with B-frames too) and the sound cameras send.
for name in ('videotestsrc', 'x264enc', 'rtph264pay', 'audiotestsrc', 'audioconvert',
             'audioresample', 'valve', 'avenc_aac', 'rtpmp4gpay', 'opusenc', 'rtpopuspay',
             'alawenc', 'rtppcmapay', 'mulawenc', 'rtppcmupay'):
    assert Gst.ElementFactory.find(name), name
PY
then
  missing+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad
    gstreamer1.0-rtsp gstreamer1.0-libav)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test dependencies: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
npm test
