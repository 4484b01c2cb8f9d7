package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary run as coffre inside the transcripts:
// testscript puts a copy named coffre first in their $PATH.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"coffre": func() { os.Exit(coffreMain()) },
	})
}

// TestScript runs the transcripts in testdata/script: each runs coffre
// commands in a fresh $WORK and checks their exit code, stdout and stderr
// (the transcripts pin the command line as FiloSottile/age's cmd/age does).
//
// Besides testscript's own commands a transcript has
//
//	waithttp URL             wait (30 s at most) until GET URL answers 200
//	setenvfile NAME FILE     set $NAME to FILE's content, less its final newline
//
// and $PORT, a loopback port that was free when the transcript started,
// $REPO, the root of the repository, and $SOON, the date a month from now.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			port, err := freePort()
			if err != nil {
				return err
			}
			env.Setenv("PORT", strconv.Itoa(port))
			repo, err := filepath.Abs(filepath.Join("..", ".."))
			if err != nil {
				return err
			}
			env.Setenv("REPO", repo)
			env.Setenv("SOON", time.Now().AddDate(0, 1, 0).Format(time.DateOnly))
			// The day an enrolment code made now expires (72 hours on).
			env.Setenv("ENROL_UNTIL", time.Now().UTC().Add(72*time.Hour).Format(time.DateOnly))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waithttp":   waitHTTP,
			"setenvfile": setenvFile,
		},
	})
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waithttp URL")
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		cancel()
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("%s did not answer 200 within 30 s: %s", args[0], last)
}

func setenvFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: setenvfile NAME FILE")
	}
	ts.Setenv(args[0], strings.TrimSuffix(ts.ReadFile(args[1]), "\n"))
}
