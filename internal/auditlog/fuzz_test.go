package auditlog

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzWitnessBody feeds arbitrary witness requests to the parser: never a
// panic, and what it accepts survives an encode-parse round trip.
func FuzzWitnessBody(f *testing.F) {
	f.Add(WitnessBody(0, nil, []byte("note\n")))
	f.Add(WitnessBody(7, [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}, []byte("x")))
	f.Add([]byte("old 1\nnot base64\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		old, p, note, err := parseWitnessBody(body)
		if err != nil {
			return
		}
		old2, p2, note2, err := parseWitnessBody(WitnessBody(old, p, note))
		if err != nil || old2 != old || !slices.EqualFunc(p, p2, bytes.Equal) || !bytes.Equal(note, note2) {
			t.Fatalf("round trip of %q: %d %x %q, %v", body, old2, p2, note2, err)
		}
	})
}

// FuzzParseHistory: the history parser never panics; what it accepts
// re-encodes and parses to the same history, and verifying it (with the
// golden file's key) never panics either.
func FuzzParseHistory(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "subject-history.json"))
	if err != nil {
		f.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join("testdata", "subject-history.key"))
	if err != nil {
		f.Fatal(err)
	}
	vkey := strings.TrimSpace(string(key))
	f.Add(golden)
	f.Add([]byte(`{"format":"coffre-subject-history/v1","subject":"sub_1","checkpoint":"","entries":[]}`))
	f.Add([]byte(`{"format":"coffre-subject-history/v1","entries":[{"seq":1,"proof":["AA=="]}]}`))
	f.Add([]byte(`{"format":"coffre-subject-history/v1","subject":"sub_1","entries":[{"seq":2,"proof":[],"index":0,"previous":0,"index_proof":[],` +
		`"withheld":true,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`))
	f.Add([]byte(`{"format":"coffre-subject-history/v1","subject":"sub_1","entries":[{"seq":2,"leaf":"AA==","proof":[],"index":0,"previous":0,"index_proof":[],` +
		`"summary":{"time":"2026-03-02T09:00:00Z","action":"read","purpose":"case-handling","fields":["phone"],"decision":"allow","by":"staff","role":"caseworker"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHistory(bytes.NewReader(b))
		if err != nil {
			return
		}
		again, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := ParseHistory(bytes.NewReader(again))
		if err != nil || !reflect.DeepEqual(h, h2) {
			t.Fatalf("%q parsed, re-encoded to %q, which parses to %+v, %v", b, again, h2, err)
		}
		if len(b) < 64<<10 {
			VerifyHistory(h, vkey, nil)
		}
	})
}

// FuzzParseEvidence feeds arbitrary bundles (a checkpoint, an entries
// file) to the parser: never a panic; what it accepts re-encodes and
// parses to the same bundle, and verifying it (with the golden history's
// key, whose checkpoint seeds the corpus) never panics either.
func FuzzParseEvidence(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "subject-history.json"))
	if err != nil {
		f.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join("testdata", "subject-history.key"))
	if err != nil {
		f.Fatal(err)
	}
	var h History
	if err := json.Unmarshal(golden, &h); err != nil {
		f.Fatal(err)
	}
	vkey := strings.TrimSpace(string(key))
	header := `{"format":"coffre-evidence/v1","incident":"inc_aaaaaaaaaaaaaaaa","scope":"from 2026-11-28T00:00:00Z","from":"2026-11-28T00:00:00Z","size":3,"first":1,"last":3,"scanned":3,"entries":1}` + "\n"
	f.Add([]byte(h.Checkpoint), []byte(header))
	f.Add([]byte(h.Checkpoint), []byte(header+`{"seq":2,"entry":{"time":"2026-11-28T09:00:00Z","actor":"op_1","action":"read","decision":"allow"},"leaf":"AA==","proof":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]}`+"\n"))
	f.Add([]byte("x\n"), []byte(`{"format":"coffre-evidence/v1","from":"2026-11-28T00:00:00Z","to":"2026-11-29T00:00:00Z","size":0,"first":0,"last":0,"scanned":0,"entries":0}`))
	f.Add([]byte{}, []byte(header+`{"seq":1,"proof":["AA=="]}`))
	f.Add([]byte{}, []byte(header+`{"seq":1,"entry":{"fields":[]},"leaf":"","proof":[]}`))
	f.Fuzz(func(t *testing.T, checkpoint, entries []byte) {
		ev, err := ParseEvidence(bytes.NewReader(checkpoint), bytes.NewReader(entries))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := ev.WriteEntries(&b); err != nil {
			t.Fatal(err)
		}
		ev2, err := ParseEvidence(bytes.NewReader(ev.Checkpoint), &b)
		if err != nil || !reflect.DeepEqual(ev, ev2) {
			t.Fatalf("%q parsed, re-encoded to %q, which parses to %+v, %v", entries, b.Bytes(), ev2, err)
		}
		VerifyEvidence(ev, vkey)
	})
}
