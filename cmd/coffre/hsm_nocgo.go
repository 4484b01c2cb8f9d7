//go:build !cgo

package main

import (
	"errors"
	"fmt"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/kms"
)

// openHSM fails: the PKCS#11 wrapper needs cgo.
func openHSM(config.PKCS11, bool) (kms.Wrapper, func(), error) {
	return nil, nil, errors.New("this coffre was built without cgo, so without PKCS#11 support: rebuild with CGO_ENABLED=1")
}

func describeHSM(c config.PKCS11) string {
	return fmt.Sprintf("pkcs11 module %s, token %q, key %q", c.Module, c.Token, c.Key)
}
