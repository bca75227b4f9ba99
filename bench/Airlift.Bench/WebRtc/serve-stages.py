#!/usr/bin/env python3
"""Buckets `perf script -F comm,tid,ip,sym,dso` samples of airlift serve by stage (issue #13, profile-serve.sh).

A sample goes to the first stage (in the order below) whose pattern matches a frame of its stack (Class::Method of the
runtime's perf map); samples of the background JIT, GC and epoll threads by thread name; samples whose stack holds the JIT
(libclrjit) and no stage to foreground JIT; the rest by the library at the leaf (libcrypto without a managed caller is
OpenSSL reached through a frame perf could not unwind: DTLS signatures/ECDH/HKDF, SRTP AES-GCM, STUN HMAC).
Usage: serve-stages.py FILE [SERVER_CPU_MS SESSIONS]  (with the last two, ms per session).
"""
import collections
import re
import sys

RULES = [
    ("DTLS: ML-KEM encapsulation (BouncyCastle)", r"MlKem|MLKem"),
    ("DTLS: handshake (ECDHE, ECDSA, key schedule, records)", r"Airlift\.Dtls"),
    ("SRTP unprotect/protect", r"Airlift\.Srtp"),
    ("ICE-lite (STUN checks, consent)", r"Airlift\.Ice"),
    ("signalling: SDP offer parse", r"SdpOffer::TryParse"),
    ("signalling: SDP answer build", r"SdpAnswerBuilder"),
    ("signalling: transport create (TransportHost.CreateSession)", r"TransportHost::CreateSession"),
    ("signalling: Publish rest (limits, lock, peer)", r"BroadcastHub::Publish"),
    ("signalling: read offer body", r"ReadOfferAsync"),
    ("signalling: stats/DELETE handlers", r"Snapshot|DeleteAsync|ServeCommand.*MapBroadcast.*b__"),
    ("HTTP: Kestrel/routing/middleware", r"AspNetCore|ServeCommand"),
    ("host: timers (FireTimers)", r"FireTimers"),
    ("host: transport drain/events (mostly the sendto)", r"DrainLocked|TransportSession|WebRtcTransport"),
    ("session loop (BroadcastPeer.RunAsync, channels)", r"BroadcastPeer|Publisher::|Channel"),
    ("host: UDP receive/send (SocketDriver)", r"SocketDriver|TransportHost|System\.Net\.Sockets"),
]
METHOD = re.compile(r"(\S+::[^(]+)\(")


def samples(path):
    cur = None
    for line in open(path, errors="replace"):
        if not line.strip():
            if cur:
                yield cur
            cur = None
        elif not line[0].isspace():
            cur = (line.strip(), [])
        else:
            m = re.match(r"\s*([0-9a-f]+)\s+(.*)\s+\((.*)\)$", line.rstrip())
            if m and cur is not None:
                cur[1].append((m.group(2), m.group(3)))
    if cur:
        yield cur


def stage(comm, stack):
    if comm.startswith(".NET Tiered"):
        return "JIT: background tier-1 compiles"
    if comm.startswith(".NET BGC") or comm.startswith(".NET Server GC"):
        return "GC: background GC thread"
    if comm.startswith(".NET Sockets"):
        return "runtime: epoll thread (.NET Sockets)"
    if any("libclrjit" in d for _, d in stack):
        return "JIT: foreground (tier-0) compiles"
    names = " | ".join((METHOD.search(f).group(1) if METHOD.search(f) else f) for f, _ in stack)
    for name, pattern in RULES:
        if re.search(pattern, names):
            return name
    leaf = stack[0][1].split("/")[-1] if stack else "?"
    return "other: no stage frame, leaf in " + leaf


def main():
    counts = collections.Counter(stage(c, s) for c, s in samples(sys.argv[1]))
    total = sum(counts.values())
    per = float(sys.argv[2]) / float(sys.argv[3]) if len(sys.argv) > 3 else None
    print(f"{total} samples")
    for name, n in counts.most_common():
        ms = f" {per * n / total:6.2f} ms/session" if per else ""
        print(f"{n:6d} {100 * n / total:5.1f}%{ms}  {name}")


if __name__ == "__main__":
    main()
