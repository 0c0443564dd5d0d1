import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { startOnvifDevice } from '../../support/onvif-device.js';
import { connectOnvif, MAX_ANSWER_BYTES } from './onvif.js';

describe('connectOnvif', () => {
  it('reads the PTZ profile and presets, and moves, stops and goes to presets with them', async () => {
    const device = await startOnvifDevice({ user: 'admin', password: 'pw' });
    try {
      const ptz = await connectOnvif('dome', {
        onvif: device.url,
        user: 'admin',
        password: 'pw',
      })();
      assert.deepEqual(ptz.presets, [
        { token: '1', name: 'Home' },
        { token: '2', name: 'Gate' },
      ]);
      await ptz.move({ pan: 0.5, tilt: -0.25, zoom: 0 }, 2000);
      await ptz.stop();
      await ptz.gotoPreset('2');
      assert.deepEqual(
        device.calls.map((call) => [call.action, call.body]),
        [
          ['GetPresets', { profileToken: device.profileToken }],
          [
            'ContinuousMove',
            { profileToken: device.profileToken, x: 0.5, y: -0.25, zoom: 0, timeout: 'PT2S' },
          ],
          ['Stop', { profileToken: device.profileToken, panTilt: true, zoom: true }],
          ['GotoPreset', { profileToken: device.profileToken, preset: '2' }],
        ],
      );
    } finally {
      await device.close();
    }
  });

  it('refuses a device without PTZ, and a wrong password, with the reason', async () => {
    const fixed = await startOnvifDevice({ ptz: false });
    const locked = await startOnvifDevice({ user: 'admin', password: 'pw' });
    try {
      await assert.rejects(
        connectOnvif('fixed', { onvif: fixed.url })(),
        /the device has no media profile with a PTZ configuration/,
      );
      await assert.rejects(
        connectOnvif('dome', { onvif: locked.url, user: 'admin', password: 'nope' })(),
        /Sender not Authorized/,
      );
    } finally {
      await fixed.close();
      await locked.close();
    }
  });

  it('cuts off a device that answers more than it may, before the client parses it', async () => {
    // What a broken device or someone on its network could send: the client's namespace regex
    // takes quadratic time on it (seconds for 1 MB), and it keeps all of it in memory.
    let sent = 0;
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/soap+xml' });
      const chunk = 'xmlns'.repeat(10_000);
      const more = () => {
        while (sent < 4 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
        if (sent < 4 * 1024 * 1024) res.once('drain', more);
        else res.end();
      };
      res.on('error', () => {});
      more();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await assert.rejects(
        connectOnvif('dome', { onvif: `http://127.0.0.1:${port}/onvif/device_service` })(),
        new RegExp(`answered more than ${MAX_ANSWER_BYTES / 1024} KiB`),
      );
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
