package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
	"github.com/pquerna/otp/totp"
)

// BenchmarkHTTPRead measures audited reads over HTTP (loopback, the load
// generator in the same process) with 32 concurrent clients.
func BenchmarkHTTPRead(b *testing.B) {
	ctx := context.Background()
	cfg, _ := config.Demo(nil)
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, _ := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	v := vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy, Logger: slog.New(slog.DiscardHandler)})
	rows := make([]vault.ImportRow, 10000)
	for i := range rows {
		p := synth.Make(5, i)
		rows[i] = vault.ImportRow{Num: i, Unit: p.Unit, Fields: p.Fields}
	}
	ids, _, err := v.Import(ctx, identity.Actor{ID: "bench", Role: "admin"}, rows)
	if err != nil {
		b.Fatal(err)
	}
	as := &auth.Service{Store: st, Keys: keys, Params: auth.Params{Time: 1, Memory: 1024, Threads: 1}}
	op, err := as.AddReadyOperator(ctx, "bench", "", "caseworker", "ac-versailles")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer((&httpapi.Server{Vault: v, Auth: as, Logger: slog.New(slog.DiscardHandler)}).Handler())
	defer srv.Close()
	post := func(path string, body any) map[string]any {
		raw, _ := json.Marshal(body)
		resp, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	lt := post("/v1/auth/login", map[string]string{"username": "bench", "password": op.Password})["login_token"]
	code, _ := totp.GenerateCode(op.TOTPSecret, time.Now())
	token, _ := post("/v1/auth/totp", map[string]any{"login_token": lt, "code": code})["token"].(string)
	if token == "" {
		b.Fatal("no session token")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", srv.URL+"/v1/subjects/"+ids[int(n.Add(1))%len(ids)], nil)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Coffre-Purpose", "case-handling")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	g, r := st.Stats()
	b.ReportMetric(float64(r)/float64(g), "reqs/group")
}
