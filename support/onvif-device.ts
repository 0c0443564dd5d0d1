/**
 * A fake ONVIF camera for tests: SOAP 1.2 over HTTP on 127.0.0.1, with just enough of the Device,
 * Media and PTZ services for the npm `onvif` client (0.8.x) to connect, list presets and move.
 * One video source, one profile (with a PTZConfiguration unless `ptz: false`), WS-Security
 * UsernameToken (PasswordDigest) checked when a user is given. It records what it was asked, so a
 * test can assert the PTZ calls a camera would have seen; it never moves anything.
 *
 * Requests are read with a few regexes, not an XML parser: the client writes flat, predictable
 * envelopes, and the fields that matter (ProfileToken, PanTilt x/y, Zoom x, Timeout, PresetToken,
 * the UsernameToken) are leaf elements or attributes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface OnvifDeviceOptions {
  /** With a user (and password), every call but GetSystemDateAndTime needs its UsernameToken. */
  user?: string;
  password?: string;
  /** preset token -> name. Default { '1': 'Home', '2': 'Gate' }: numeric tokens, as many cameras have. */
  presets?: Record<string, string>;
  /** false: a camera without PTZ (no PTZ service, profile without PTZConfiguration). Default true. */
  ptz?: boolean;
}

export interface OnvifCall {
  /** Local name of the request element: 'ContinuousMove' | 'Stop' | 'GotoPreset' | 'GetPresets' | ... */
  action: string;
  /** Date.now() when it was answered. */
  at: number;
  /**
   * The fields that matter, absent ones left out. ContinuousMove: { profileToken, x, y, zoom,
   * timeout } (timeout as sent, e.g. 'PT1S'); Stop: { profileToken, panTilt, zoom }; GotoPreset:
   * { profileToken, preset }; GetPresets / GetStatus: { profileToken }.
   */
  body: Record<string, unknown>;
}

export interface OnvifDevice {
  /** http://127.0.0.1:PORT/onvif/device_service */
  readonly url: string;
  readonly port: number;
  /** The token of the device's only media profile (what the client sends as ProfileToken). */
  readonly profileToken: string;
  /** Every PTZ-service call that was accepted (authorized, valid, answered), in order. */
  readonly calls: OnvifCall[];
  /**
   * Every action name received, in order, including connect-time calls and calls that were then
   * refused (bad credentials, unknown action). Not those cut off while offline.
   */
  readonly requests: string[];
  /**
   * Resolves with the `count`-th accepted call of `action` (PTZ service only: see `calls`);
   * rejects after `timeoutMs` (default 3000) with the calls and requests seen so far.
   */
  waitFor(action: string, count?: number, timeoutMs?: number): Promise<OnvifCall>;
  /** While offline each connection is destroyed at once, so a client sees the camera as gone. */
  setOffline(offline: boolean): void;
  close(): Promise<void>;
}

const NS = {
  env: 'http://www.w3.org/2003/05/soap-envelope',
  ter: 'http://www.onvif.org/ver10/error',
  tt: 'http://www.onvif.org/ver10/schema',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tptz: 'http://www.onvif.org/ver20/ptz/wsdl',
} as const;

const SPACE = {
  panTiltVelocity: 'http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace',
  zoomVelocity: 'http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace',
  panTiltPosition: 'http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace',
  zoomPosition: 'http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace',
  panTiltSpeed: 'http://www.onvif.org/ver10/tptz/PanTiltSpaces/GenericSpeedSpace',
  zoomSpeed: 'http://www.onvif.org/ver10/tptz/ZoomSpaces/ZoomGenericSpeedSpace',
} as const;

// Tokens are not numeric on purpose: the client's `linerase` turns numeric text into numbers.
const PROFILE_TOKEN = 'Profile_1';
const VIDEO_SOURCE_TOKEN = 'VideoSource_1';
const PTZ_CONFIG_TOKEN = 'PTZConfig_1';
const PTZ_NODE_TOKEN = 'PTZNode_1';

const PATHS = {
  device: '/onvif/device_service',
  media: '/onvif/media_service',
  ptz: '/onvif/ptz_service',
} as const;

/** Enough for any envelope the client writes; more is refused (413) rather than buffered. */
const MAX_BODY_BYTES = 64 * 1024;

/** Served on the PTZ service; only these are recorded in `calls`. */
const PTZ_ACTIONS = new Set([
  'GetPresets',
  'GotoPreset',
  'ContinuousMove',
  'Stop',
  'GetStatus',
  'GetNodes',
  'GetConfigurations',
]);

interface SoapFault {
  /** SOAP 1.2 over HTTP: 400 for env:Sender faults, 500 for env:Receiver ones. */
  status: 400 | 500;
  code: 'env:Sender' | 'env:Receiver';
  subcodes: string[];
  reason: string;
}

/**
 * The client turns a fault into `new Error('ONVIF SOAP Fault: ' + Reason/Text)` whatever the HTTP
 * status (utils.js parseSOAPString), so `reason` is what a test sees in the error message.
 */
const FAULTS = {
  notAuthorized: {
    status: 400,
    code: 'env:Sender',
    subcodes: ['ter:NotAuthorized'],
    reason: 'Sender not Authorized',
  },
  actionNotSupported: {
    status: 500,
    code: 'env:Receiver',
    subcodes: ['ter:ActionNotSupported'],
    reason: 'Optional Action Not Implemented',
  },
  wellFormed: {
    status: 400,
    code: 'env:Sender',
    subcodes: ['ter:WellFormed'],
    reason: 'Well-formed Error',
  },
  noProfile: {
    status: 400,
    code: 'env:Sender',
    subcodes: ['ter:InvalidArgVal', 'ter:NoProfile'],
    reason: 'The requested profile token ProfileToken does not exist',
  },
  noPreset: {
    status: 400,
    code: 'env:Sender',
    subcodes: ['ter:InvalidArgVal', 'ter:NoToken'],
    reason: 'The requested preset token does not exist',
  },
} satisfies Record<string, SoapFault>;

export async function startOnvifDevice(options: OnvifDeviceOptions = {}): Promise<OnvifDevice> {
  const hasPtz = options.ptz !== false;
  const presets = options.presets ?? { '1': 'Home', '2': 'Gate' };
  const needsAuth = options.user !== undefined || options.password !== undefined;
  const calls: OnvifCall[] = [];
  const requests: string[] = [];
  const waiters = new Set<{ action: string; count: number; resolve: (call: OnvifCall) => void }>();
  const sockets = new Set<Socket>();
  const paths = new Set<string>(hasPtz ? Object.values(PATHS) : [PATHS.device, PATHS.media]);
  let offline = false;
  // What GetStatus reports: set by ContinuousMove, cleared by Stop (no Timeout clock is kept).
  const moving = { panTilt: false, zoom: false };
  let base = '';

  const record = (action: string, body: Record<string, unknown>) => {
    const call: OnvifCall = { action, at: Date.now(), body: withoutUndefined(body) };
    calls.push(call);
    const seen = calls.filter((c) => c.action === action).length;
    for (const waiter of waiters) {
      if (waiter.action === action && waiter.count === seen) {
        waiters.delete(waiter);
        waiter.resolve(call);
      }
    }
  };

  /** WS-Security UsernameToken: PasswordDigest = Base64(SHA1(nonce bytes + Created + password)). */
  const authorized = (header: string): boolean => {
    if (!needsAuth) return true;
    const user = options.user ?? '';
    const password = options.password ?? '';
    const given = element(header, 'Password');
    if (textOf(header, 'Username') !== user || given === undefined) return false;
    if ((given.attrs.Type ?? '').endsWith('#PasswordText')) return sameText(given.text, password);
    const nonce = textOf(header, 'Nonce');
    const created = textOf(header, 'Created');
    if (nonce === undefined || created === undefined) return false;
    // Created is not checked against the clock: the client derives it from GetSystemDateAndTime
    // with one-second precision, and a test gains nothing from replay protection.
    const digest = createHash('sha1')
      .update(
        Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created), Buffer.from(password)]),
      )
      .digest('base64');
    return sameText(given.text, digest);
  };

  const checkProfile = (body: string): SoapFault | undefined =>
    textOf(body, 'ProfileToken') === PROFILE_TOKEN ? undefined : FAULTS.noProfile;

  const ptzAnswer = (action: string, body: string): string | SoapFault => {
    switch (action) {
      case 'GetPresets': {
        const fault = checkProfile(body);
        if (fault) return fault;
        record(action, { profileToken: PROFILE_TOKEN });
        const items = Object.entries(presets).map(
          ([token, name]) =>
            `<tptz:Preset token="${esc(token)}"><tt:Name>${esc(name)}</tt:Name></tptz:Preset>`,
        );
        return `<tptz:GetPresetsResponse>${items.join('')}</tptz:GetPresetsResponse>`;
      }
      case 'GotoPreset': {
        const fault = checkProfile(body);
        if (fault) return fault;
        const preset = textOf(body, 'PresetToken');
        if (preset === undefined || !Object.hasOwn(presets, preset)) return FAULTS.noPreset;
        record(action, { profileToken: PROFILE_TOKEN, preset });
        moving.panTilt = false;
        moving.zoom = false;
        return '<tptz:GotoPresetResponse/>';
      }
      case 'ContinuousMove': {
        const fault = checkProfile(body);
        if (fault) return fault;
        const panTilt = element(body, 'PanTilt')?.attrs;
        const zoom = element(body, 'Zoom')?.attrs;
        const move = {
          profileToken: PROFILE_TOKEN,
          x: numberOf(panTilt?.x),
          y: numberOf(panTilt?.y),
          zoom: numberOf(zoom?.x),
          timeout: textOf(body, 'Timeout'),
        };
        record(action, move);
        moving.panTilt = (move.x ?? 0) !== 0 || (move.y ?? 0) !== 0;
        moving.zoom = (move.zoom ?? 0) !== 0;
        return '<tptz:ContinuousMoveResponse/>';
      }
      case 'Stop': {
        const fault = checkProfile(body);
        if (fault) return fault;
        // ONVIF: an absent PanTilt / Zoom flag means "stop that too", so these are what the
        // camera stops. The client only writes a flag when it is truthy: stop({ panTilt: true })
        // stops zoom as well.
        const stop = {
          profileToken: PROFILE_TOKEN,
          panTilt: flagOf(textOf(body, 'PanTilt')),
          zoom: flagOf(textOf(body, 'Zoom')),
        };
        record(action, stop);
        if (stop.panTilt) moving.panTilt = false;
        if (stop.zoom) moving.zoom = false;
        return '<tptz:StopResponse/>';
      }
      case 'GetStatus': {
        const fault = checkProfile(body);
        if (fault) return fault;
        record(action, { profileToken: PROFILE_TOKEN });
        const status = (on: boolean) => (on ? 'MOVING' : 'IDLE');
        return (
          '<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>' +
          `<tt:PanTilt x="0" y="0" space="${SPACE.panTiltPosition}"/>` +
          `<tt:Zoom x="0" space="${SPACE.zoomPosition}"/></tt:Position>` +
          `<tt:MoveStatus><tt:PanTilt>${status(moving.panTilt)}</tt:PanTilt>` +
          `<tt:Zoom>${status(moving.zoom)}</tt:Zoom></tt:MoveStatus>` +
          `<tt:UtcTime>${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}</tt:UtcTime>` +
          '</tptz:PTZStatus></tptz:GetStatusResponse>'
        );
      }
      case 'GetNodes':
        record(action, {});
        return `<tptz:GetNodesResponse>${PTZ_NODE}</tptz:GetNodesResponse>`;
      case 'GetConfigurations':
        record(action, {});
        return `<tptz:GetConfigurationsResponse>${ptzConfiguration('tptz')}</tptz:GetConfigurationsResponse>`;
      default:
        return FAULTS.actionNotSupported;
    }
  };

  const answer = (action: string, body: string): string | SoapFault => {
    if (PTZ_ACTIONS.has(action))
      return hasPtz ? ptzAnswer(action, body) : FAULTS.actionNotSupported;
    switch (action) {
      case 'GetSystemDateAndTime':
        return systemDateAndTime(new Date());
      case 'GetServices':
        return services(base, hasPtz, textOf(body, 'IncludeCapability') === 'true');
      case 'GetCapabilities':
        return capabilities(base, hasPtz);
      case 'GetDeviceInformation':
        return (
          '<tds:GetDeviceInformationResponse><tds:Manufacturer>camplex</tds:Manufacturer>' +
          '<tds:Model>onvif-device simulator</tds:Model><tds:FirmwareVersion>V1.0.0</tds:FirmwareVersion>' +
          '<tds:SerialNumber>SIM0001</tds:SerialNumber><tds:HardwareId>SIM</tds:HardwareId>' +
          '</tds:GetDeviceInformationResponse>'
        );
      case 'GetProfiles':
        return `<trt:GetProfilesResponse>${profile(hasPtz)}</trt:GetProfilesResponse>`;
      case 'GetVideoSources':
        return (
          `<trt:GetVideoSourcesResponse><trt:VideoSources token="${VIDEO_SOURCE_TOKEN}">` +
          '<tt:Framerate>25</tt:Framerate>' +
          '<tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution>' +
          '</trt:VideoSources></trt:GetVideoSourcesResponse>'
        );
      default:
        return FAULTS.actionNotSupported;
    }
  };

  const handle = (xml: string, res: ServerResponse) => {
    const envelope = parseEnvelope(xml);
    if (envelope === undefined) return reply(res, FAULTS.wellFormed);
    const { action, header, body } = envelope;
    requests.push(action);
    // ONVIF lets anyone ask the time: the client needs it to date its UsernameToken.
    if (action !== 'GetSystemDateAndTime' && !authorized(header)) {
      return reply(res, FAULTS.notAuthorized);
    }
    reply(res, answer(action, body));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (offline) {
      req.socket.destroy();
      return;
    }
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (!paths.has(path)) {
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-length': 0 }).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = () => {
      refused = true;
      res.writeHead(413, { connection: 'close', 'content-length': 0 }).end();
    };
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) refuse();
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) refuse();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) handle(Buffer.concat(chunks).toString('utf8'), res);
    });
    req.on('error', () => res.destroy());
  });
  server.on('connection', (socket: Socket) => {
    if (offline) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;

  return {
    url: `${base}${PATHS.device}`,
    port,
    profileToken: PROFILE_TOKEN,
    calls,
    requests,
    waitFor(action, count = 1, timeoutMs = 3000) {
      const done = calls.filter((c) => c.action === action)[count - 1];
      if (done) return Promise.resolve(done);
      return new Promise<OnvifCall>((resolve, reject) => {
        const waiter = {
          action,
          count,
          resolve: (call: OnvifCall) => {
            clearTimeout(timer);
            resolve(call);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const seen = calls.filter((c) => c.action === action).length;
          reject(
            new Error(
              `onvif-device: no ${action} #${count} within ${timeoutMs} ms (got ${seen}); ` +
                `calls so far: [${calls.map((c) => c.action).join(', ')}]; ` +
                `requests so far: [${requests.join(', ')}]`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    setOffline(value) {
      offline = value;
      if (value) for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- requests ----

/** The soap Header and Body text and the local name of the Body's first element. */
function parseEnvelope(xml: string): { action: string; header: string; body: string } | undefined {
  const open = /<(?:[\w.-]+:)?Body(?=[\s/>])[^>]*>/.exec(xml);
  if (open === null) return undefined;
  const body = xml.slice(open.index + open[0].length);
  const first = /^\s*(?:<!--[\s\S]*?-->\s*)*<(?:[\w.-]+:)?([\w.-]+)/.exec(body);
  if (first?.[1] === undefined) return undefined;
  return { action: first[1], header: xml.slice(0, open.index), body };
}

/** The first element named `name` (any prefix): its attributes and its text (empty if none). */
function element(
  xml: string,
  name: string,
): { attrs: Record<string, string>; text: string } | undefined {
  const match = new RegExp(`<(?:[\\w.-]+:)?${name}(?=[\\s/>])([^>]*?)(?:/>|>([^<]*)<)`).exec(xml);
  if (match === null) return undefined;
  const attrs: Record<string, string> = {};
  for (const [, key, double, single] of (match[1] ?? '').matchAll(
    /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g,
  )) {
    if (key !== undefined) attrs[key] = unesc(double ?? single ?? '');
  }
  return { attrs, text: unesc(match[2] ?? '').trim() };
}

function textOf(xml: string, name: string): string | undefined {
  return element(xml, name)?.text;
}

function numberOf(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

/** A Stop flag: absent means true (ONVIF PTZ spec), else xs:boolean. */
function flagOf(value: string | undefined): boolean {
  return value === undefined || value === 'true' || value === '1';
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function withoutUndefined(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

function esc(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function unesc(text: string): string {
  const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (whole, ref: string) => {
    if (ref[0] !== '#') return named[ref.toLowerCase()] ?? whole;
    const code =
      ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
    return String.fromCodePoint(code);
  });
}

// ---- answers ----

function reply(res: ServerResponse, answer: string | SoapFault): void {
  const fault = typeof answer === 'string' ? undefined : answer;
  const body = fault === undefined ? answer : faultXml(fault);
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<env:Envelope ${Object.entries(NS)
      .map(([prefix, uri]) => `xmlns:${prefix}="${uri}"`)
      .join(' ')}><env:Body>${body}</env:Body></env:Envelope>`;
  res.writeHead(fault?.status ?? 200, {
    'content-type': 'application/soap+xml; charset=utf-8',
    'content-length': Buffer.byteLength(xml),
  });
  res.end(xml);
}

function faultXml({ code, subcodes, reason }: SoapFault): string {
  const sub = subcodes.reduceRight(
    (inner, value) => `<env:Subcode><env:Value>${value}</env:Value>${inner}</env:Subcode>`,
    '',
  );
  return (
    `<env:Fault><env:Code><env:Value>${code}</env:Value>${sub}</env:Code>` +
    `<env:Reason><env:Text xml:lang="en">${reason}</env:Text></env:Reason></env:Fault>`
  );
}

function systemDateAndTime(now: Date): string {
  return (
    '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>' +
    '<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>' +
    '<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>' +
    `<tt:Time><tt:Hour>${now.getUTCHours()}</tt:Hour><tt:Minute>${now.getUTCMinutes()}</tt:Minute>` +
    `<tt:Second>${now.getUTCSeconds()}</tt:Second></tt:Time>` +
    `<tt:Date><tt:Year>${now.getUTCFullYear()}</tt:Year><tt:Month>${now.getUTCMonth() + 1}</tt:Month>` +
    `<tt:Day>${now.getUTCDate()}</tt:Day></tt:Date>` +
    '</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>'
  );
}

/** At least two services always: the client's linerase makes a lone Service an object, not a list. */
function services(base: string, ptz: boolean, withCapabilities: boolean): string {
  const service = (namespace: string, path: string, capabilities: string) =>
    `<tds:Service><tds:Namespace>${namespace}</tds:Namespace><tds:XAddr>${base}${path}</tds:XAddr>` +
    (withCapabilities ? `<tds:Capabilities>${capabilities}</tds:Capabilities>` : '') +
    '<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>';
  return (
    '<tds:GetServicesResponse>' +
    service(
      NS.tds,
      PATHS.device,
      '<tds:Capabilities><tds:Network IPFilter="false" ZeroConfiguration="false" IPVersion6="false" DynDNS="false"/>' +
        '<tds:Security UsernameToken="true" HttpDigest="false"/>' +
        '<tds:System DiscoveryResolve="false" DiscoveryBye="false" RemoteDiscovery="false"/></tds:Capabilities>',
    ) +
    service(
      NS.trt,
      PATHS.media,
      '<trt:Capabilities SnapshotUri="false" Rotation="false"><trt:ProfileCapabilities MaximumNumberOfProfiles="1"/>' +
        '<trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="true" RTP_RTSP_TCP="true"/></trt:Capabilities>',
    ) +
    (ptz
      ? service(
          NS.tptz,
          PATHS.ptz,
          '<tptz:Capabilities EFlip="false" Reverse="false" GetCompatibleConfigurations="false" MoveStatus="true" StatusPosition="true"/>',
        )
      : '') +
    '</tds:GetServicesResponse>'
  );
}

/** The pre-GetServices answer, which the client falls back to when GetServices fails. */
function capabilities(base: string, ptz: boolean): string {
  return (
    '<tds:GetCapabilitiesResponse><tds:Capabilities>' +
    `<tt:Device><tt:XAddr>${base}${PATHS.device}</tt:XAddr></tt:Device>` +
    `<tt:Media><tt:XAddr>${base}${PATHS.media}</tt:XAddr><tt:StreamingCapabilities>` +
    '<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>' +
    '<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>' +
    (ptz ? `<tt:PTZ><tt:XAddr>${base}${PATHS.ptz}</tt:XAddr></tt:PTZ>` : '') +
    '</tds:Capabilities></tds:GetCapabilitiesResponse>'
  );
}

function range(min: number, max: number): string {
  return `<tt:Min>${min}</tt:Min><tt:Max>${max}</tt:Max>`;
}

/** `prefix` is the element's own namespace: tt inside a Profile, tptz in GetConfigurations. */
function ptzConfiguration(prefix: 'tt' | 'tptz'): string {
  return (
    `<${prefix}:PTZConfiguration token="${PTZ_CONFIG_TOKEN}"><tt:Name>PTZ</tt:Name>` +
    `<tt:UseCount>1</tt:UseCount><tt:NodeToken>${PTZ_NODE_TOKEN}</tt:NodeToken>` +
    `<tt:DefaultContinuousPanTiltVelocitySpace>${SPACE.panTiltVelocity}</tt:DefaultContinuousPanTiltVelocitySpace>` +
    `<tt:DefaultContinuousZoomVelocitySpace>${SPACE.zoomVelocity}</tt:DefaultContinuousZoomVelocitySpace>` +
    `<tt:DefaultPTZSpeed><tt:PanTilt x="1" y="1" space="${SPACE.panTiltSpeed}"/>` +
    `<tt:Zoom x="1" space="${SPACE.zoomSpeed}"/></tt:DefaultPTZSpeed>` +
    '<tt:DefaultPTZTimeout>PT5S</tt:DefaultPTZTimeout>' +
    `<tt:PanTiltLimits><tt:Range><tt:URI>${SPACE.panTiltPosition}</tt:URI>` +
    `<tt:XRange>${range(-1, 1)}</tt:XRange><tt:YRange>${range(-1, 1)}</tt:YRange></tt:Range></tt:PanTiltLimits>` +
    `<tt:ZoomLimits><tt:Range><tt:URI>${SPACE.zoomPosition}</tt:URI>` +
    `<tt:XRange>${range(0, 1)}</tt:XRange></tt:Range></tt:ZoomLimits>` +
    `</${prefix}:PTZConfiguration>`
  );
}

const PTZ_NODE =
  `<tptz:PTZNode token="${PTZ_NODE_TOKEN}" FixedHomePosition="false"><tt:Name>PTZ</tt:Name>` +
  '<tt:SupportedPTZSpaces>' +
  `<tt:ContinuousPanTiltVelocitySpace><tt:URI>${SPACE.panTiltVelocity}</tt:URI>` +
  `<tt:XRange>${range(-1, 1)}</tt:XRange><tt:YRange>${range(-1, 1)}</tt:YRange></tt:ContinuousPanTiltVelocitySpace>` +
  `<tt:ContinuousZoomVelocitySpace><tt:URI>${SPACE.zoomVelocity}</tt:URI>` +
  `<tt:XRange>${range(-1, 1)}</tt:XRange></tt:ContinuousZoomVelocitySpace>` +
  '</tt:SupportedPTZSpaces><tt:MaximumNumberOfPresets>255</tt:MaximumNumberOfPresets>' +
  '<tt:HomeSupported>false</tt:HomeSupported></tptz:PTZNode>';

/** The one profile: H.264 1080p25 from the one video source, with PTZ when the camera has it. */
function profile(ptz: boolean): string {
  return (
    `<trt:Profiles token="${PROFILE_TOKEN}" fixed="true"><tt:Name>mainStream</tt:Name>` +
    '<tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSourceConfig</tt:Name>' +
    `<tt:UseCount>1</tt:UseCount><tt:SourceToken>${VIDEO_SOURCE_TOKEN}</tt:SourceToken>` +
    '<tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>' +
    '<tt:VideoEncoderConfiguration token="VideoEncoderConfig_1"><tt:Name>VideoEncoderConfig</tt:Name>' +
    '<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>' +
    '<tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution>' +
    '<tt:Quality>5</tt:Quality><tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit>' +
    '<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>4096</tt:BitrateLimit></tt:RateControl>' +
    '<tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>' +
    '<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>' +
    (ptz ? ptzConfiguration('tt') : '') +
    '</trt:Profiles>'
  );
}
