package httpapi_test

import (
	"net/http"
	"testing"
)

// TestSealShareUnquorate: POST /v1/sys/seal-share, where no quorum seals,
// says who does: 409 not_sealable on a server with no sealed keyring; 403
// seal_by_officer behind a gate of seal.by officer, once unsealed (sealed,
// the gate answers 503 sealed).
func TestSealShareUnquorate(t *testing.T) {
	share := req{Method: "POST", Path: "/v1/sys/seal-share", Body: map[string]string{"share": "x", "reason": "INC-1"}}
	newEnv(t).call(t, share).want(t, http.StatusConflict, "not_sealable")

	e := newEnvOpts(t, envOptions{sealed: true})
	e.call(t, share).want(t, http.StatusServiceUnavailable, "sealed")
	for _, i := range []int{0, 1, 2} {
		e.unseal(t, e.shares[i].Text()).want(t, http.StatusOK, "")
	}
	e.call(t, share).want(t, http.StatusForbidden, "seal_by_officer")
}
