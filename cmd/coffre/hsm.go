//go:build cgo

package main

import (
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/kms"
	"github.com/coffre/coffre/internal/kms/pkcs11"
)

// openHSM opens the key that the configuration's seal.pkcs11 names,
// generating it in the token first when generate is set. The caller
// closes it.
func openHSM(c config.PKCS11, generate bool) (kms.Wrapper, func(), error) {
	pc := pkcs11.Config{Module: c.Module, TokenLabel: c.Token, KeyLabel: c.Key, PINFile: c.PINFile, PINEnv: c.PINEnv}
	if generate {
		if err := pkcs11.GenerateKey(pc); err != nil {
			return nil, nil, err
		}
	}
	w, err := pkcs11.Open(pc)
	if err != nil {
		return nil, nil, err
	}
	return w, func() { w.Close() }, nil
}

// describeHSM names the token and key of c, never the PIN.
func describeHSM(c config.PKCS11) string {
	return pkcs11.Config{Module: c.Module, TokenLabel: c.Token, KeyLabel: c.Key, PINFile: c.PINFile, PINEnv: c.PINEnv}.String()
}
