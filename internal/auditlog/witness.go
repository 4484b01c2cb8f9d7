package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
	"github.com/transparency-dev/merkle/proof"
)

// Witnessing, after C2SP tlog-witness in a reduced form: the log POSTs
//
//	old <size the witness last saw>
//	<consistency proof hash, base64>   (one per line, none from size 0)
//	<blank line>
//	<signed checkpoint>
//
// A witness accepts (200) a checkpoint that verifies under the log's key
// and provably extends the last one it accepted; it answers 409 with its
// own size on the first line when "old" is not its size (the log retries
// from there), and 422 when the proof fails. A log that shows different
// heads to different parties cannot get both past the same witness.

// maxWitnessBody bounds a witness request.
const maxWitnessBody = 64 << 10

// WitnessBody encodes a witness request.
func WitnessBody(old uint64, p [][]byte, note []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range p {
		b.WriteString(base64.StdEncoding.EncodeToString(h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(note)
	return b.Bytes()
}

func parseWitnessBody(body []byte) (uint64, [][]byte, []byte, error) {
	r := bufio.NewReader(bytes.NewReader(body))
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "old ") {
		return 0, nil, nil, errors.New(`first line must be "old <size>"`)
	}
	old, err := strconv.ParseUint(strings.TrimSpace(line[4:]), 10, 64)
	if err != nil {
		return 0, nil, nil, errors.New("old size is not a number")
	}
	var p [][]byte
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, nil, nil, errors.New("no blank line before the checkpoint")
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			break
		}
		h, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(h) != 32 || len(p) >= 64 {
			return 0, nil, nil, errors.New("bad proof hash")
		}
		p = append(p, h)
	}
	note, _ := io.ReadAll(r)
	return old, p, note, nil
}

// Witness is a minimal in-memory witness of one log.
type Witness struct {
	VerifierKey string

	mu   sync.Mutex
	size uint64
	root []byte
}

// Size returns the size of the last checkpoint the witness accepted.
func (w *Witness) Size() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// ServeHTTP handles a witness request.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(rw, "POST a checkpoint", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxWitnessBody))
	if err != nil {
		http.Error(rw, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	old, p, note, err := parseWitnessBody(body)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	cp, err := audit.Open(note, w.VerifierKey)
	if err != nil {
		http.Error(rw, "checkpoint does not verify", http.StatusForbidden)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old != w.size || cp.Size < w.size {
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", w.size)
		return
	}
	if w.size > 0 {
		var err error
		if cp.Size == w.size {
			if !bytes.Equal(cp.Root, w.root) {
				err = errors.New("another root for the same size")
			}
		} else {
			err = proof.VerifyConsistency(audit.Hasher, w.size, cp.Size, p, w.root, cp.Root)
		}
		if err != nil {
			http.Error(rw, "not consistent with the last checkpoint witnessed: "+err.Error(), http.StatusUnprocessableEntity)
			return
		}
	}
	w.size, w.root = cp.Size, cp.Root
}

// pushWitness sends a checkpoint to one witness, retrying once from the
// size the witness reports; it returns the size the witness now holds.
func pushWitness(ctx context.Context, c *http.Client, s store.Store, url string, old uint64, cp *audit.StoredCheckpoint) (uint64, error) {
	for try := 0; try < 2; try++ {
		var p [][]byte
		if old > 0 && old < cp.Size {
			var err error
			if p, err = ConsistencyProof(ctx, s, old, cp.Size); err != nil {
				return old, err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(WitnessBody(old, p, cp.Note)))
		if err != nil {
			return old, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return old, fmt.Errorf("witness %s: %w", url, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			return cp.Size, nil
		case http.StatusConflict:
			n, err := strconv.ParseUint(strings.TrimSpace(string(body)), 10, 64)
			if err != nil {
				return old, fmt.Errorf("witness %s: 409 without a size", url)
			}
			old = n
			continue
		default:
			return old, fmt.Errorf("witness %s refused the checkpoint of size %d: %s %.200s", url, cp.Size, resp.Status, body)
		}
	}
	return old, fmt.Errorf("witness %s: sizes disagree after a retry", url)
}
