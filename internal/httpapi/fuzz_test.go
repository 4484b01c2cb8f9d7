package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// fuzzBodyLimit is the body cap of the decode fuzz target: small, so that
// the fuzzer reaches it.
const fuzzBodyLimit = 256

// requestTypes makes a fresh value of each request body type.
var requestTypes = map[string]func() any{
	"login":     func() any { return new(loginRequest) },
	"unlock":    func() any { return new(unlockRequest) },
	"extension": func() any { return new(extensionRequest) },
	"approve":   func() any { return new(approveRequest) },
	"webauthn":  func() any { return new(webauthnLogin) },
	"code":      func() any { return new(codeRequest) },
	"cred":      func() any { return new(credentialRequest) },
	"stepcode":  func() any { return new(stepUpCode) },
	"stepkey":   func() any { return new(stepUpKey) },
	"operator":  func() any { return new(operatorRequest) },
	"partner":   func() any { return new(partnerRequest) },
	"reason":    func() any { return new(reasonRequest) },
	"totp":      func() any { return new(totpRequest) },
	"create":    func() any { return new(createRequest) },
	"lookup":    func() any { return new(lookupRequest) },
	"update":    func() any { return new(updateRequest) },
}

// FuzzDecode feeds arbitrary bytes as the body of each request type, both
// to decodeJSON and through Server.decode (content type, size cap). It must
// never panic; an error must wrap exactly one of errBadRequest and
// errTooLarge; and an accepted body must be one JSON value, an object (or
// null), within the cap.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"username":"helene","password":"pw"}`,
		`{"login_token":"cfl_x","code":"123456"}`,
		`{"unit":"ac-normandie","fields":{"given_name":"Zoé","family_name":"Martin"}}`,
		`{"field":"email_pro","value":"a@b.fr"}`,
		`{"fields":{"phone":null,"job_title":"x"}}`,
		`{"fields":{"phone":1}}`,
		`{"username":"a","password":"b","admin":true}`,
		`{"USERNAME":"a"}`,
		`{"username":"a"} {}`,
		`{"username":"a"}}`,
		`{"username":"a"}   `,
		`{"username":"a`,
		`null`,
		`[]`,
		`"x"`,
		`1e999`,
		``,
		" \t\r\n",
		`{"fields":{"a":"` + strings.Repeat("x", fuzzBodyLimit) + `"}}`,
		`{"username":"a"}` + strings.Repeat(" ", fuzzBodyLimit),
		`{"value":"\ud800"}`,
		"{\"value\":\"\xff\"}",
		strings.Repeat("[", 300),
	} {
		f.Add([]byte(seed), "application/json")
	}
	f.Add([]byte(`{"username":"a","password":"b"}`), "text/plain")
	f.Add([]byte(`{"username":"a","password":"b"}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"username":"a","password":"b"}`), "")

	s := &Server{MaxBodyBytes: fuzzBodyLimit}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		for name, mk := range requestTypes {
			// decodeJSON, bounded as the server bounds it.
			v := mk()
			err := decodeJSON(http.MaxBytesReader(httptest.NewRecorder(), readCloser(body), fuzzBodyLimit), v)
			checkDecoded(t, name, body, v, err)

			// Server.decode, as a handler calls it.
			r := httptest.NewRequest("POST", "/v1/x", bytes.NewReader(body))
			if contentType != "" {
				r.Header.Set("Content-Type", contentType)
			}
			v2 := mk()
			err2 := s.decode(httptest.NewRecorder(), r, v2)
			if mt, _, perr := mime.ParseMediaType(contentType); contentType != "" && (perr != nil || mt != "application/json") {
				if !errors.Is(err2, errBadRequest) {
					t.Fatalf("%s: content type %q accepted (err %v)", name, contentType, err2)
				}
				continue
			}
			checkDecoded(t, name, body, v2, err2)
			if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
				t.Fatalf("%s: decodeJSON said %v, Server.decode said %v", name, err, err2)
			}
		}
	})
}

func readCloser(b []byte) *nopCloser { return &nopCloser{bytes.NewReader(b)} }

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func checkDecoded(t *testing.T, name string, body []byte, v any, err error) {
	t.Helper()
	if err != nil {
		bad, large := errors.Is(err, errBadRequest), errors.Is(err, errTooLarge)
		if bad == large {
			t.Fatalf("%s: %q: error %v wraps errBadRequest %v, errTooLarge %v: want exactly one", name, body, err, bad, large)
		}
		if large && len(body) <= fuzzBodyLimit {
			t.Fatalf("%s: %d-byte body refused as too large (cap %d)", name, len(body), fuzzBodyLimit)
		}
		// The public message is built from the error: valid UTF-8, and
		// bounded by the body it describes.
		if msg := err.Error(); len(msg) > 200+len(body) || !utf8.ValidString(msg) {
			t.Fatalf("%s: error message %q", name, msg)
		}
		return
	}
	if len(body) > fuzzBodyLimit {
		t.Fatalf("%s: %d-byte body accepted (cap %d)", name, len(body), fuzzBodyLimit)
	}
	if !json.Valid(body) {
		t.Fatalf("%s: invalid JSON %q accepted into %+v", name, body, v)
	}
	switch trimmed := bytes.TrimLeft(body, " \t\r\n"); {
	case bytes.HasPrefix(trimmed, []byte("{")), bytes.HasPrefix(trimmed, []byte("null")):
	default:
		t.Fatalf("%s: non-object %q accepted", name, body)
	}
	// What was accepted re-encodes and decodes to the same value.
	out, merr := json.Marshal(v)
	if merr != nil {
		t.Fatalf("%s: marshal %+v: %v", name, v, merr)
	}
	again := requestTypes[name]()
	if err := decodeJSON(bytes.NewReader(out), again); err != nil {
		t.Fatalf("%s: re-encoded %s refused: %v", name, out, err)
	}
	if !reflect.DeepEqual(again, v) {
		t.Fatalf("%s: %+v re-decoded as %+v", name, v, again)
	}
}

// FuzzHeaders checks the Coffre-Purpose and Coffre-Reason validation: it
// never panics; an accepted purpose is a well-formed name (or absent when
// not needed); an accepted reason is trimmed, printable UTF-8 and at most
// ReasonMaxLen bytes; refusals wrap errBadRequest and quote neither header.
func FuzzHeaders(f *testing.F) {
	for _, s := range []struct {
		purpose, reason string
	}{
		{"directory", ""},
		{"case-handling", "ticket 42"},
		{"workplace-adjustment", "  RH-2026-042 (poste adapté)  "},
		{"", ""},
		{"Directory", ""},
		{"1abc", ""},
		{"a_b-c9", ""},
		{strings.Repeat("a", 63), ""},
		{strings.Repeat("a", 64), ""},
		{"directory", strings.Repeat("r", 200)},
		{"directory", strings.Repeat("r", 201)},
		{"directory", strings.Repeat("é", 100)},
		{"directory", "a\tb"},
		{"directory", "a\x00b"},
		{"directory", "a\x7fb"},
		{"directory", "\xff\xfe"},
		{"directory", "a\u0085b"},
		{"directory", "a\u202eb"},
		{"directory", "a\u200bb"},
		{"directory", "\u00a0ticket\u00a0"},
		{"directory", "a\u00a0b"},
		{"directory", "a\u3000b"},
		{"dir\u00e9ctory", ""},
		{"directory ", ""},
	} {
		f.Add(s.purpose, s.reason, true, uint16(200))
		f.Add(s.purpose, s.reason, false, uint16(1))
	}

	f.Fuzz(func(t *testing.T, purpose, reason string, need bool, max uint16) {
		s := &Server{ReasonMaxLen: int(max)}
		if s.ReasonMaxLen <= 0 {
			s.ReasonMaxLen = 200 // as Handler defaults it
		}
		r := httptest.NewRequest("GET", "/v1/subjects/x", nil)
		if purpose != "" {
			r.Header["Coffre-Purpose"] = []string{purpose}
		}
		if reason != "" {
			r.Header["Coffre-Reason"] = []string{reason}
		}
		gotPurpose, gotReason, err := s.headers(r, need)
		if err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("headers(%q, %q): error %v does not wrap errBadRequest", purpose, reason, err)
			}
			if gotPurpose != "" || gotReason != "" {
				t.Fatalf("headers(%q, %q) refused but returned %q, %q", purpose, reason, gotPurpose, gotReason)
			}
			msg := err.Error()
			for _, h := range []string{purpose, strings.TrimSpace(reason)} {
				if len(h) >= 3 && strings.Contains(msg, h) && !strings.Contains(headerMessages, h) {
					t.Fatalf("error %q quotes the header value %q", msg, h)
				}
			}
			return
		}
		if gotPurpose != purpose {
			t.Fatalf("purpose %q came back as %q", purpose, gotPurpose)
		}
		switch {
		case purpose == "" && need:
			t.Fatalf("missing purpose accepted")
		case purpose != "" && !validName(purpose):
			t.Fatalf("malformed purpose %q accepted", purpose)
		}
		if len(gotReason) > s.ReasonMaxLen {
			t.Fatalf("reason of %d bytes accepted (max %d)", len(gotReason), s.ReasonMaxLen)
		}
		if !utf8.ValidString(gotReason) {
			t.Fatalf("reason %q is not UTF-8", gotReason)
		}
		for _, c := range gotReason {
			if !unicode.IsPrint(c) {
				t.Fatalf("reason %q holds %U, not printable", gotReason, c)
			}
		}
		if gotReason != strings.TrimSpace(gotReason) || gotReason != strings.TrimSpace(reason) {
			t.Fatalf("reason %q came back as %q: want it trimmed", reason, gotReason)
		}
	})
}

// headerMessages holds the fixed text of headers' errors: a header value
// found in it is not an echo.
const headerMessages = "missing Coffre-Purpose header: every read declares a purpose: " +
	"malformed Coffre-Purpose: lower-case letters, digits and '-', at most 63: " +
	"Coffre-Reason longer than bytes: Coffre-Reason holds control characters or invalid UTF-8: bad request 0123456789"

// FuzzForwardedFor: whatever X-Forwarded-For a client sends, the origin is
// the peer unless the peer is a trusted proxy, and is then an address
// parsed from the header or a proxy's: never free text.
func FuzzForwardedFor(f *testing.F) {
	for _, seed := range []string{"203.0.113.5", "10.0.0.1, 127.0.0.1", "", "garbage", "::1,  2001:db8::1", "1.2.3.4,,5.6.7.8"} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, xff string, fromProxy bool) {
		s := &Server{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "198.51.100.7:1234"
		if fromProxy {
			r.RemoteAddr = "127.0.0.1:1234"
		}
		r.Header.Set("X-Forwarded-For", xff)
		got := s.origin(r)
		if !fromProxy {
			if got != "198.51.100.7" {
				t.Fatalf("origin from a non-proxy peer = %q", got)
			}
			return
		}
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("origin %q is not an address (header %q)", got, xff)
		}
	})
}
