package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"github.com/coffre/coffre/internal/auditstream"
	"github.com/coffre/coffre/internal/config"
)

// initStream builds the audit stream to the configured sinks (none: no
// stream), reading the webhook's secret and the syslog receiver's CA
// file: a server refuses to start without them.
func (a *app) initStream() error {
	var sinks []auditstream.Sink
	if h := a.cfg.AuditStream.Webhook; h.URL != "" {
		secret, err := readSecret("audit.stream.webhook secret", h.SecretFile, h.SecretEnv)
		if err != nil {
			return err
		}
		sinks = append(sinks, &auditstream.Webhook{URL: h.URL, Secret: secret})
	}
	if sc := a.cfg.AuditStream.Syslog; sc.Address != "" {
		sink, err := syslogSink(sc)
		if err != nil {
			return err
		}
		sinks = append(sinks, sink)
	}
	if len(sinks) > 0 {
		a.stream = &auditstream.Streamer{Store: a.health, Sinks: sinks, Logger: a.log}
	}
	return nil
}

// syslogSink is the configured syslog receiver, its CA file read.
func syslogSink(sc config.SyslogSink) (*auditstream.Syslog, error) {
	sink := &auditstream.Syslog{Addr: sc.Address}
	if sc.TLS {
		host, _, _ := net.SplitHostPort(sc.Address)
		sink.TLS = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if sc.ServerName != "" {
			sink.TLS.ServerName = sc.ServerName
		}
		if sc.CAFile != "" {
			pem, err := os.ReadFile(sc.CAFile)
			if err != nil {
				return nil, fmt.Errorf("audit.stream.syslog.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("audit.stream.syslog.ca_file %s: no PEM certificate in it", sc.CAFile)
			}
			sink.TLS.RootCAs = pool
		}
	}
	return sink, nil
}

// streams is the audit stream's status, for /readyz and /metrics (nil
// without a stream).
func (a *app) streams() func() []auditstream.Status {
	if a.stream == nil {
		return nil
	}
	return a.stream.Status
}
