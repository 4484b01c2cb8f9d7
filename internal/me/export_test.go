package me

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// SealStateForTest seals a state cookie for state as StartOIDC does.
func (s *Service) SealStateForTest(state string) string {
	b, _ := json.Marshal(oidcState{State: state, Nonce: "n", Verifier: "v", Expires: time.Now().Add(time.Hour)})
	return base64.RawURLEncoding.EncodeToString(s.Keys.SealSecret(stateLabel, b))
}
