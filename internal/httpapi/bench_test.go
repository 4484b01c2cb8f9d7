package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/httpapi/apitest"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
	"github.com/pquerna/otp/totp"
)

// BenchmarkHTTPRead measures audited reads over HTTP (loopback, the load
// generator in the same process) with 32 concurrent clients.
func BenchmarkHTTPRead(b *testing.B) {
	ctx := context.Background()
	s := apitest.Start(b, apitest.Config{})
	rows := make([]vault.ImportRow, 10000)
	for i := range rows {
		p := synth.Make(5, i)
		rows[i] = vault.ImportRow{Num: i, Unit: p.Unit, Fields: p.Fields}
	}
	ids, _, err := s.Vault.Import(ctx, identity.Actor{ID: "bench", Role: "admin"}, rows)
	if err != nil {
		b.Fatal(err)
	}
	op, err := s.Auth.AddReadyOperator(ctx, "bench", "", "caseworker", "ac-versailles")
	if err != nil {
		b.Fatal(err)
	}
	post := func(path string, body any) map[string]any {
		raw, _ := json.Marshal(body)
		resp, err := http.Post(s.URL+path, "application/json", bytes.NewReader(raw))
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
			req, _ := http.NewRequest("GET", s.URL+"/v1/subjects/"+ids[int(n.Add(1))%len(ids)], nil)
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
	g, r := s.SQLite.Stats()
	b.ReportMetric(float64(r)/float64(g), "reqs/group")
}
