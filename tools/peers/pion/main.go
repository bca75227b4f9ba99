// Command pion-peer is a DTLS 1.2 client or server built on pion/dtls v2, used by Airlift's
// real-peer lab and interop tests. It prints one JSON line per event on stdout:
//
//	{"event":"listening","addr":"127.0.0.1:4444"}             (server, once bound)
//	{"event":"connected","role":"server","exporter":"AB..",...} (handshake done)
//	{"event":"failed","role":"client","error":"..."}            (handshake failed; exit 1)
//
// After connecting it stays up (answering retransmitted flights, discarding data) until stdin
// reaches EOF or -lifetime expires, then exits 0.
//
// Build (Debian packages golang-go golang-github-pion-dtls.v2-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o ../out/pion-peer .
package main

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pion/dtls/v2"
)

var outMu sync.Mutex

func emit(fields map[string]interface{}) {
	b, _ := json.Marshal(fields)
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

func fail(role string, err error) {
	emit(map[string]interface{}{"event": "failed", "role": role, "error": err.Error()})
	os.Exit(1)
}

func parseProfiles(text string) ([]dtls.SRTPProtectionProfile, error) {
	var out []dtls.SRTPProtectionProfile
	for _, name := range strings.Split(text, ",") {
		switch strings.TrimSpace(name) {
		case "":
		case "SRTP_AES128_CM_HMAC_SHA1_80", "SRTP_AES128_CM_SHA1_80":
			out = append(out, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
		case "SRTP_AES128_CM_HMAC_SHA1_32", "SRTP_AES128_CM_SHA1_32":
			out = append(out, dtls.SRTP_AES128_CM_HMAC_SHA1_32)
		case "SRTP_AEAD_AES_128_GCM":
			out = append(out, dtls.SRTP_AEAD_AES_128_GCM)
		case "SRTP_AEAD_AES_256_GCM":
			out = append(out, dtls.SRTP_AEAD_AES_256_GCM)
		default:
			return nil, fmt.Errorf("unknown SRTP profile %q", name)
		}
	}
	return out, nil
}

func profileName(p dtls.SRTPProtectionProfile) string {
	switch p {
	case dtls.SRTP_AES128_CM_HMAC_SHA1_80:
		return "SRTP_AES128_CM_HMAC_SHA1_80"
	case dtls.SRTP_AES128_CM_HMAC_SHA1_32:
		return "SRTP_AES128_CM_HMAC_SHA1_32"
	case dtls.SRTP_AEAD_AES_128_GCM:
		return "SRTP_AEAD_AES_128_GCM"
	case dtls.SRTP_AEAD_AES_256_GCM:
		return "SRTP_AEAD_AES_256_GCM"
	}
	return fmt.Sprintf("0x%04x", uint16(p))
}

func main() {
	role := flag.String("role", "client", "client or server")
	addr := flag.String("addr", "127.0.0.1:4444", "server: listen address; client: server address")
	certFile := flag.String("cert", "", "certificate PEM (leaf first, then any intermediates)")
	keyFile := flag.String("key", "", "private key PEM")
	srtp := flag.String("srtp", "SRTP_AES128_CM_HMAC_SHA1_80", "DTLS-SRTP profiles, comma-separated IANA names (empty: none)")
	label := flag.String("exporter", "EXTRACTOR-dtls_srtp", "keying material exporter label")
	exporterLen := flag.Int("exporter-len", 60, "exporter length in bytes (0: no exporter)")
	mtu := flag.Int("mtu", 1200, "largest UDP payload (pion's own MTU setting is set 25 bytes lower, see below)")
	timeout := flag.Float64("timeout", 30, "handshake timeout, seconds")
	lifetime := flag.Float64("lifetime", 60, "seconds to stay up after connecting (stdin EOF ends it sooner)")
	flag.Parse()

	if *role != "client" && *role != "server" {
		fmt.Fprintln(os.Stderr, "-role must be client or server")
		os.Exit(2)
	}
	if *certFile == "" || *keyFile == "" {
		fmt.Fprintln(os.Stderr, "-cert and -key are required")
		os.Exit(2)
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		fail(*role, fmt.Errorf("load certificate: %w", err))
	}
	profiles, err := parseProfiles(*srtp)
	if err != nil {
		fail(*role, err)
	}
	udpAddr, err := net.ResolveUDPAddr("udp", *addr)
	if err != nil {
		fail(*role, err)
	}
	handshakeTimeout := time.Duration(*timeout * float64(time.Second))
	config := &dtls.Config{
		Certificates:           []tls.Certificate{cert},
		SRTPProtectionProfiles: profiles,
		ExtendedMasterSecret:   dtls.RequireExtendedMasterSecret,
		InsecureSkipVerify:     true,
		ClientAuth:             dtls.RequireAnyClientCert,
		// pion/dtls v2 splits handshake bodies into MTU-sized fragments and then adds the record header (13)
		// and handshake header (12), so its datagrams reach MTU+25: give it the fragment size that fits.
		MTU: *mtu - 25,
		ConnectContextMaker: func() (context.Context, func()) {
			return context.WithTimeout(context.Background(), handshakeTimeout)
		},
	}

	var conn *dtls.Conn
	var start time.Time
	if *role == "server" {
		listener, err := dtls.Listen("udp", udpAddr, config)
		if err != nil {
			fail(*role, err)
		}
		emit(map[string]interface{}{"event": "listening", "addr": listener.Addr().String()})
		c, err := listener.Accept()
		if err != nil {
			fail(*role, err)
		}
		conn = c.(*dtls.Conn)
	} else {
		start = time.Now()
		conn, err = dtls.Dial("udp", udpAddr, config)
		if err != nil {
			fail(*role, err)
		}
	}

	state := conn.ConnectionState()
	report := map[string]interface{}{
		"event": "connected",
		"role":  *role,
		"peer":  conn.RemoteAddr().String(),
	}
	if *role == "client" {
		// A pion server's Accept returns only after the handshake, so only the client can time it.
		report["handshakeMs"] = float64(time.Since(start).Microseconds()) / 1000
	}
	if p, ok := conn.SelectedSRTPProtectionProfile(); ok {
		report["srtpProfile"] = profileName(p)
	}
	if *exporterLen > 0 {
		km, err := state.ExportKeyingMaterial(*label, nil, *exporterLen)
		if err != nil {
			fail(*role, fmt.Errorf("exporter: %w", err))
		}
		report["exporter"] = strings.ToUpper(hex.EncodeToString(km))
	}
	emit(report)

	// Keep reading so a retransmitted final flight is answered; leave on stdin EOF or after the lifetime.
	go func() {
		buf := make([]byte, 8192)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Duration(*lifetime * float64(time.Second))):
	}
	_ = conn.Close()
}
