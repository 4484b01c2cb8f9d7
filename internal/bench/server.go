package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// server is coffre serve running as a child process.
type server struct {
	cmd      *exec.Cmd
	addr     string
	log      string
	exited   chan struct{} // closed once cmd.Wait returned
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// serverOptions are how a benchmark's server runs.
type serverOptions struct {
	store      string // a postgres:// URL, or "" for the directory's SQLite file
	guard      string // serve --guard
	integrator bool   // serve --integrator
	noNotices  bool   // serve --notices=false
	env        []string
}

// startServer runs bin serve --dev on dir at a free loopback port and
// waits until it answers /healthz.
func startServer(ctx context.Context, bin, dir string, o serverOptions) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(dir, ServeLog)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	args := []string{"serve", "--dev", "--data", dir, "--listen", addr, "--guard", o.guard, fmt.Sprintf("--integrator=%t", o.integrator)}
	if o.noNotices {
		args = append(args, "--notices=false") // only then: a --server built before the flag runs as before
	}
	if o.store != "" {
		args = append(args, "--store", o.store)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &server{cmd: cmd, addr: addr, log: logPath, exited: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); close(s.exited) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("server exited before answering (%v); its log:\n%s", s.waitErr, tail(logPath, 2000))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("server did not answer /healthz within 2 minutes; see %s", logPath)
		}
	}
}

// stop sends SIGTERM and waits for the server to exit (killing it after
// 15 s); it reports an early or unclean exit.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			s.stopErr = fmt.Errorf("server exited during the benchmark (%v); see %s", s.waitErr, s.log)
			return
		default:
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			if s.waitErr != nil {
				s.stopErr = fmt.Errorf("server: %v; see %s", s.waitErr, s.log)
			}
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = fmt.Errorf("server still running 15 s after SIGTERM: killed; see %s", s.log)
		}
	})
	return s.stopErr
}

// tail returns the last n bytes of a file, for an error message.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
