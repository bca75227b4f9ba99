// werift-peer: a DTLS 1.2 client or server on werift 0.25 (npm), used by Airlift's real-peer lab and
// interop tests. Same contract as tools/peers/pion: one JSON line per event on stdout
//   {"event":"listening","addr":"127.0.0.1:4444"}            (server, once bound)
//   {"event":"connected","role":"server","exporter":"AB..",...} (handshake done)
//   {"event":"failed","role":"client","error":"..."}           (exit 1)
// then stays up until stdin EOF or --lifetime seconds.
//
//   node peer.mjs --role server|client --addr 127.0.0.1:4444 --cert C.pem --key K.pem
//        [--srtp SRTP_AES128_CM_HMAC_SHA1_80] [--exporter EXTRACTOR-dtls_srtp] [--exporter-len 60]
//        [--timeout 30] [--lifetime 60]
//
// werift is found at $AIRLIFT_WERIFT (the package directory), else in scripts/.peers/node/node_modules
// of the enclosing repository (npm install --prefix scripts/.peers/node werift@0.25), else by plain require.
// Quirks: werift sends only the leaf certificate (no chain), needs a PKCS#8 key, offers AES-128-GCM suites
// only, and has no MTU setting (handshake fragments of up to 1240 bytes).
import { createRequire } from "node:module";
import { createPrivateKey } from "node:crypto";
import { readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import dgram from "node:dgram";

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function parseArgs(argv) {
  const opts = {
    role: "client", addr: "127.0.0.1:4444", cert: "", key: "", srtp: "SRTP_AES128_CM_HMAC_SHA1_80",
    exporter: "EXTRACTOR-dtls_srtp", "exporter-len": "60", timeout: "30", lifetime: "60",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--") || i + 1 >= argv.length) {
      console.error(`bad argument ${a}`);
      process.exit(2);
    }
    opts[a.slice(2)] = argv[++i];
  }
  return opts;
}

function findWerift() {
  if (process.env.AIRLIFT_WERIFT) return process.env.AIRLIFT_WERIFT;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, "scripts", ".peers", "node", "node_modules", "werift");
    if (existsSync(candidate)) return candidate;
    const parent = resolve(dir, "..");
    if (parent === dir) break;
    dir = parent;
  }
  return "werift";
}

const opts = parseArgs(process.argv.slice(2));
const role = opts.role;
if (role !== "client" && role !== "server") {
  console.error("--role must be client or server");
  process.exit(2);
}

function fail(err) {
  emit({ event: "failed", role, error: String(err && err.message ? err.message : err) });
  process.exit(1);
}

let werift;
try {
  werift = createRequire(import.meta.url)(findWerift());
} catch (e) {
  console.error("werift not found: npm install --prefix scripts/.peers/node werift@0.25 (or set AIRLIFT_WERIFT)");
  fail(e);
}
const { DtlsClient, DtlsServer } = werift;

const profileIds = { SRTP_AES128_CM_HMAC_SHA1_80: 1, SRTP_AES128_CM_SHA1_80: 1, SRTP_AEAD_AES_128_GCM: 7 };
const profileNames = { 1: "SRTP_AES128_CM_HMAC_SHA1_80", 7: "SRTP_AEAD_AES_128_GCM" };
const srtpProfiles = opts.srtp.split(",").map((s) => s.trim()).filter((s) => s).map((s) => {
  if (!(s in profileIds)) fail(`werift does not support SRTP profile ${s}`);
  return profileIds[s];
});

// werift takes one certificate: the first PEM block (the leaf).
const certPem = readFileSync(opts.cert, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
const keyPem = readFileSync(opts.key, "utf8");
if (!certPem) fail(`no certificate in ${opts.cert}`);
const keyType = createPrivateKey(keyPem).asymmetricKeyType;
const signatureHash = { hash: 4, signature: keyType === "ec" ? 3 : 1 };

const [host, portText] = [opts.addr.slice(0, opts.addr.lastIndexOf(":")), opts.addr.slice(opts.addr.lastIndexOf(":") + 1)];
const port = Number(portText);
const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");

// A minimal werift Transport over one UDP socket: a server answers whoever spoke last.
let remote = role === "client" ? { address: host, port } : undefined;
const transport = {
  type: "udp",
  closed: false,
  onData: () => {},
  get address() { return socket.address(); },
  send: (buf) => new Promise((ok, ko) => {
    if (!remote) return ok();
    socket.send(buf, remote.port, remote.address, (err) => (err ? ko(err) : ok()));
  }),
  close: async () => { transport.closed = true; socket.close(); },
};
socket.on("message", (buf, rinfo) => {
  remote = { address: rinfo.address, port: rinfo.port };
  transport.onData(buf, [rinfo.address, rinfo.port]);
});
socket.on("error", fail);

const start = process.hrtime.bigint();
const deadline = setTimeout(() => fail(`handshake not complete within ${opts.timeout} s`), Number(opts.timeout) * 1000);

function onConnected(dtls) {
  clearTimeout(deadline);
  const report = { event: "connected", role, peer: remote ? `${remote.address}:${remote.port}` : undefined };
  if (role === "client") report.handshakeMs = Number(process.hrtime.bigint() - start) / 1e6;
  const profile = dtls.srtp?.srtpProfile;
  if (profile !== undefined) report.srtpProfile = profileNames[profile] ?? String(profile);
  const len = Number(opts["exporter-len"]);
  if (len > 0) report.exporter = Buffer.from(dtls.exportKeyingMaterial(opts.exporter, len)).toString("hex").toUpperCase();
  emit(report);
  const lifetime = setTimeout(() => process.exit(0), Number(opts.lifetime) * 1000);
  process.stdin.on("end", () => { clearTimeout(lifetime); process.exit(0); });
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}

const options = {
  transport, cert: certPem, key: keyPem, signatureHash, srtpProfiles, extendedMasterSecret: true,
  certificateRequest: role === "server",
};

function run() {
  const dtls = role === "server" ? new DtlsServer(options) : new DtlsClient(options);
  dtls.onConnect.subscribe(() => onConnected(dtls));
  dtls.onError.subscribe((e) => fail(e));
  if (role === "client") dtls.connect().catch(fail);
}

if (role === "server") {
  socket.bind(port, host, () => {
    const a = socket.address();
    emit({ event: "listening", addr: `${a.address}:${a.port}` });
    run();
  });
} else {
  socket.bind(0, host.includes(":") ? "::1" : "127.0.0.1", run);
}
