package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/mailsink"
)

// AccessesBench measures GET /v1/me/accesses over HTTP, as the person
// asks for it: a server (Server serve --dev on Dir, which [HistoryBench]
// built) mails sign-in codes to a sink in this process; each target signs
// in with the code from their message, then the benchmark asks for the
// targets' histories in turn, Queries in all, one at a time, timing each
// from the request to the last byte of the answer.
type AccessesBench struct {
	Server string
	Dir    string
	Store  string
	// Contacts are the targets' email addresses (from their records).
	Contacts []string
	Queries  int
	Log      io.Writer
}

// AccessesReport is an [AccessesBench]'s outcome.
type AccessesReport struct {
	Queries int
	Entries int // entries in the first history
	Bytes   int // the first answer's size
	Times   []time.Duration
}

// codeRE finds the code in a sign-in message (French or English).
var codeRE = regexp.MustCompile(`(?:code is|est) ?: (\d{6,8})`)

// Run signs the targets in, times the histories and stops the server.
func (b *AccessesBench) Run(ctx context.Context) (*AccessesReport, error) {
	mail := filepath.Join(b.Dir, "bench-mail")
	if err := os.RemoveAll(mail); err != nil {
		return nil, err
	}
	sink, err := mailsink.Start(mail, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	// Every target signs in from this one address: the per-address limit
	// on code requests (30 an hour by default) is raised for them.
	env := append(sinkEnv(sink), fmt.Sprintf("COFFRE_SIGNIN_CODE_PER_ORIGIN_PER_HOUR=%d", max(30, 2*len(b.Contacts))))
	srv, err := startServer(ctx, b.Server, b.Dir, serverOptions{store: b.Store, guard: "on", integrator: true, env: env})
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	base := "http://" + srv.addr
	fmt.Fprintf(b.Log, "server: pid %d at %s; signing in %d people by one-time code…\n", srv.cmd.Process.Pid, base, len(b.Contacts))
	client := &http.Client{Timeout: time.Minute}
	var tokens []string
	for _, c := range b.Contacts {
		tok, err := signIn(ctx, client, base, c, sink)
		if err != nil {
			return nil, fmt.Errorf("%w; see %s", err, srv.log)
		}
		tokens = append(tokens, tok)
	}
	rep := &AccessesReport{Queries: b.Queries}
	for i := range b.Queries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/me/accesses", nil)
		req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
		t := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /v1/me/accesses: %s: %.300s", resp.Status, body)
		}
		if i == 0 {
			var h struct {
				Entries []json.RawMessage `json:"entries"`
			}
			if err := json.Unmarshal(body, &h); err != nil {
				return nil, fmt.Errorf("GET /v1/me/accesses: %w", err)
			}
			rep.Entries, rep.Bytes = len(h.Entries), len(body)
		}
		rep.Times = append(rep.Times, d)
	}
	if err := srv.stop(); err != nil {
		return nil, err
	}
	slices.Sort(rep.Times)
	return rep, nil
}

// signIn asks a code for contact, reads it from the message the sink
// took, and returns the person's session token.
func signIn(ctx context.Context, client *http.Client, base, contact string, sink *mailsink.Sink) (string, error) {
	before := sink.Received()
	var login struct {
		Token string `json:"login_token"`
	}
	if err := postJSON(ctx, client, base+"/v1/me/login", map[string]string{"contact": contact}, &login); err != nil {
		return "", err
	}
	deadline := time.Now().Add(30 * time.Second)
	var code string
	for code == "" {
		if sink.Received() > before {
			var err error
			if code, err = newestCode(sink.Dir(), contact); err != nil {
				return "", err
			}
		}
		if code != "" {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no sign-in code arrived in 30 s")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	var ses struct {
		Token string `json:"token"`
	}
	if err := postJSON(ctx, client, base+"/v1/me/login/code", map[string]string{"login_token": login.Token, "code": code}, &ses); err != nil {
		return "", err
	}
	return ses.Token, nil
}

// newestCode is the code in the newest message to contact in dir, "" if
// none holds one yet.
func newestCode(dir, contact string) (string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		return "", err
	}
	slices.Sort(names)
	for _, name := range slices.Backward(names) {
		raw, err := os.ReadFile(name)
		if err != nil {
			return "", err
		}
		head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
		if !strings.Contains(string(head), contact) {
			continue
		}
		text, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return "", fmt.Errorf("read %s: %w", name, err)
		}
		if m := codeRE.FindSubmatch(text); m != nil {
			return string(m[1]), nil
		}
	}
	return "", nil
}

// WriteText prints the report as bench history --http does.
func (r *AccessesReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "GET /v1/me/accesses over HTTP, %d requests one at a time: %d entries, %d bytes each\n", r.Queries, r.Entries, r.Bytes)
	fmt.Fprintf(w, "p50 %s, p99 %s, max %s\n", ms(Percentile(r.Times, 0.5)), ms(Percentile(r.Times, 0.99)), ms(Percentile(r.Times, 1)))
}

// WriteJSON prints the report as bench history --http --json does.
func (r *AccessesReport) WriteJSON(w io.Writer) error {
	return writeIndentedJSON(w, map[string]any{"queries": r.Queries, "entries": r.Entries, "bytes": r.Bytes,
		"p50_ms": msf(Percentile(r.Times, 0.5)), "p99_ms": msf(Percentile(r.Times, 0.99)), "max_ms": msf(Percentile(r.Times, 1))})
}
