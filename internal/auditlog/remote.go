package auditlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/coffre/coffre/internal/audit"
	"github.com/transparency-dev/merkle/proof"
)

// ErrNotAppendOnly is returned when a log shows a checkpoint that does not
// extend the one seen before: a rollback, or a fork (rewritten history).
var ErrNotAppendOnly = errors.New("audit log is not append-only")

// RemoteReport is what a remote verification saw.
type RemoteReport struct {
	Previous uint64 // size of the checkpoint kept from the last run (0: first run)
	Size     uint64 // size of the checkpoint now served
}

// maxNote bounds a served checkpoint or proof body.
const maxNote = 64 << 10

// RemoteVerify is an outside auditor's check, with only the API and the
// log's public key: it fetches the latest checkpoint, checks its signature,
// and proves with a consistency proof that the log only grew since the
// checkpoint kept in statePath by the previous run; then keeps the new one.
// The first run trusts what it sees and keeps it.
func RemoteVerify(ctx context.Context, c *http.Client, base, vkey, statePath string) (*RemoteReport, error) {
	body, err := get(ctx, c, base+"/v1/audit/checkpoint")
	if err != nil {
		return nil, err
	}
	now, err := audit.Open(body, vkey)
	if err != nil {
		return nil, fmt.Errorf("served checkpoint: %w", err)
	}
	rep := &RemoteReport{Size: now.Size}
	prevNote, err := os.ReadFile(statePath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return rep, saveState(statePath, body)
	case err != nil:
		return nil, fmt.Errorf("read state: %w", err)
	}
	prev, err := audit.Open(prevNote, vkey)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", statePath, err)
	}
	rep.Previous = prev.Size
	switch {
	case now.Size < prev.Size:
		return rep, fmt.Errorf("%w: rolled back from size %d to %d", ErrNotAppendOnly, prev.Size, now.Size)
	case now.Size == prev.Size:
		if !bytes.Equal(now.Root, prev.Root) {
			return rep, fmt.Errorf("%w: two different roots for size %d (fork)", ErrNotAppendOnly, now.Size)
		}
		return rep, nil
	}
	q := url.Values{"from": {fmt.Sprint(prev.Size)}, "to": {fmt.Sprint(now.Size)}}
	pb, err := get(ctx, c, base+"/v1/audit/proof/consistency?"+q.Encode())
	if err != nil {
		return nil, err
	}
	var p struct {
		Hashes [][]byte `json:"hashes"`
	}
	if err := json.Unmarshal(pb, &p); err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	if err := proof.VerifyConsistency(audit.Hasher, prev.Size, now.Size, p.Hashes, prev.Root, now.Root); err != nil {
		return rep, fmt.Errorf("%w: size %d does not extend size %d (fork): %v", ErrNotAppendOnly, now.Size, prev.Size, err)
	}
	return rep, saveState(statePath, body)
}

func get(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxNote))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, body)
	}
	return body, nil
}

// saveState writes the checkpoint atomically (temporary file, rename).
func saveState(path string, note []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".coffre-audit-state-*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(note); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}
