"""A real RTSP camera for tests: GStreamer's RTSP server serving a live H.264 test pattern,
optionally with B-frames and with sound (AAC, Opus, G.711 A-law or mu-law), the way awkward real
cameras send them.

Run with /usr/bin/python3 (a python3 earlier on PATH may not see the `gi` module).
Prints one line `READY <port>` on stdout once the server is listening on 127.0.0.1, then a line
`SESSIONS <n>` whenever the number of connected RTSP clients changes.
Exits cleanly (code 0) on SIGTERM or SIGINT.
"""

import argparse
import signal
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='GStreamer RTSP test camera')
    parser.add_argument('--port', type=int, default=0, help='0 lets the OS choose')
    parser.add_argument('--path', action='append', dest='paths', help='mount point, repeatable')
    parser.add_argument('--pattern', default='ball', help='videotestsrc pattern, optionally followed by its properties')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=360)
    parser.add_argument('--fps', type=int, default=15)
    parser.add_argument('--key-int', type=int, default=0, help='frames between key frames (default: fps)')
    parser.add_argument('--bitrate', type=int, default=0, help='kbit/s (default: x264enc\'s)')
    parser.add_argument('--bframes', type=int, default=0, help='B-frames between references (main profile)')
    parser.add_argument('--audio', choices=['aac', 'opus', 'pcma', 'pcmu'], help='a second stream of sound')
    parser.add_argument('--audio-stops-after', type=float, default=0,
                        help='seconds after a client starts playing at which the sound stops (video goes on)')
    args = parser.parse_args()
    args.paths = args.paths or ['/cam']
    for path in args.paths:
        if not path.startswith('/'):
            parser.error(f'--path must start with "/": {path!r}')
    if not 0 <= args.port <= 65535:
        parser.error(f'--port out of range: {args.port}')
    return args


# The sound of a camera, by codec: what its source makes (G.711 in 20 ms packets, as cameras
# send it), then the encoder and the payloader, named pay1.
AUDIO = {
    'aac': ('', 'audioconvert ! avenc_aac ! rtpmp4gpay name=pay1 pt=97'),
    'opus': ('', 'audioconvert ! audioresample ! opusenc ! rtpopuspay name=pay1 pt=98'),
    'pcma': ('samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1',
             'alawenc ! rtppcmapay name=pay1 pt=8'),
    'pcmu': ('samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1',
             'mulawenc ! rtppcmupay name=pay1 pt=0'),
}


def launch_line(args):
    # key-int-max equal to the frame rate (the default) gives a keyframe every second, so a new
    # puller decodes its first frame quickly; config-interval=1 repeats SPS/PPS with each
    # keyframe. zerolatency forbids B-frames, so a camera with them is tuned otherwise.
    if args.bframes:
        encoder = (f'x264enc speed-preset=ultrafast bframes={args.bframes} b-adapt=false '
                   f'key-int-max={args.key_int or args.fps} ')
        profile = 'main'
    else:
        encoder = f'x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.key_int or args.fps} '
        profile = 'baseline'
    video = (
        f'videotestsrc is-live=true pattern={args.pattern} '
        f'! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 '
        f'! {encoder}'
        + (f'bitrate={args.bitrate} ' if args.bitrate else '')
        + f'! video/x-h264,profile={profile} '
        '! rtph264pay name=pay0 pt=96 config-interval=1'
    )
    if not args.audio:
        return f'( {video} )'
    # The valve lets the sound stop while the video goes on (--audio-stops-after).
    source, encoder = AUDIO[args.audio]
    audio = f'audiotestsrc is-live=true wave=sine freq=440 {source} ! valve name=mute ! {encoder}'
    return f'( {video} {audio} )'


def stop_sound_later(seconds):
    """Closes the media's sound valve `seconds` after it is set up: the camera goes on silent."""

    def on_configure(_factory, media):
        valve = media.get_element().get_by_name('mute')

        def close():
            valve.set_property('drop', True)
            print('AUDIO STOPPED', flush=True)
            return GLib.SOURCE_REMOVE

        GLib.timeout_add(int(seconds * 1000), close)

    return on_configure


def main():
    args = parse_args()
    Gst.init(None)

    server = GstRtspServer.RTSPServer()
    server.set_address('127.0.0.1')
    server.set_service(str(args.port))

    mounts = server.get_mount_points()
    for path in args.paths:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(args))
        # One pipeline per mount point, shared by every client, like a real camera.
        factory.set_shared(True)
        if args.audio_stops_after > 0:
            factory.connect('media-configure', stop_sound_later(args.audio_stops_after))
        mounts.add_factory(path, factory)

    # Every change in the number of connected RTSP clients, so tests can count sessions.
    clients = set()

    def on_client(_server, client):
        clients.add(client)
        print(f'SESSIONS {len(clients)}', flush=True)

        def on_closed(closed):
            clients.discard(closed)
            print(f'SESSIONS {len(clients)}', flush=True)

        client.connect('closed', on_closed)

    server.connect('client-connected', on_client)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f'rtsp-camera: cannot listen on 127.0.0.1:{args.port}', file=sys.stderr)
        return 1

    def stop():
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, stop)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, stop)

    print(f'READY {server.get_bound_port()}', flush=True)
    loop.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
