package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/coffre/coffre/internal/public"
)

// ErrAuthenticatorNotAllowed: the security key is not one the operator's
// role accepts: the role demands attested hardware keys
// ([Service.RoleAttested]) and the key's attestation is missing,
// self-signed, of a model not on the allow-list, or not from a trusted
// root. Its public message says which, its hint what is accepted.
var ErrAuthenticatorNotAllowed = errors.New("authenticator not allowed for this role")

// Attestation is the allow-list of the roles that demand attested
// security keys: a key is accepted when its attestation statement, verified
// by the WebAuthn library, carries a certificate chain to one of Roots
// and, if AAGUIDs is not empty, names one of AAGUIDs as its model. A
// missing ("none") or self attestation, or a backup-eligible (synced)
// credential, is never accepted.
type Attestation struct {
	// AAGUIDs are the authenticator models accepted; empty: any model
	// attested by Roots.
	AAGUIDs []uuid.UUID
	// Roots are the attestation root certificates.
	Roots []*x509.Certificate
}

// Reasons a key is refused for a role demanding attested keys, as audited
// ("deny:" + reason).
const (
	refusedSynced    = "synced_credential"     // backup eligible: a synced passkey
	refusedNone      = "attestation_none"      // no attestation statement
	refusedSelf      = "self_attestation"      // signed by the credential's own key (or no chain)
	refusedAAGUID    = "aaguid_not_allowed"    // a model not on the allow-list
	refusedUntrusted = "untrusted_attestation" // no chain to a configured root
)

// chained are the attestation types whose statement carries a certificate
// chain, the only ones a root can vouch for.
var chained = metadata.AuthenticatorAttestationTypes{metadata.BasicFull, metadata.AttCA, metadata.AnonCA}

// refusal returns why cred is not accepted, or "" if it is. The
// attestation statement kept in cred is verified again by the library
// ([webauthn.Credential.Verify]) against a metadata provider that vouches
// for the allowed models with Roots as their trust anchors; a nil a
// accepts nothing.
func (a *Attestation) refusal(cred *webauthn.Credential, policy protocol.AttestationPolicy, sig protocol.SignaturePolicy) string {
	aaguid, err := uuid.FromBytes(cred.Authenticator.AAGUID)
	switch {
	case cred.Flags.BackupEligible:
		return refusedSynced
	case cred.AttestationFormat == string(protocol.AttestationFormatNone) || cred.AttestationType == string(metadata.None):
		return refusedNone
	case !slices.Contains(chained, metadata.AuthenticatorAttestationType(cred.AttestationType)):
		return refusedSelf
	case a == nil || len(a.Roots) == 0:
		return refusedUntrusted
	case err != nil || !a.allows(aaguid):
		return refusedAAGUID
	}
	if err := cred.Verify(trustAnchors{a}, policy, sig); err != nil {
		return refusedUntrusted
	}
	return ""
}

// allows reports whether the model aaguid is on the allow-list.
func (a *Attestation) allows(aaguid uuid.UUID) bool {
	return a != nil && (len(a.AAGUIDs) == 0 || slices.Contains(a.AAGUIDs, aaguid))
}

// refused is the error of a key refused for reason: its public message
// says why, its hint what the role accepts (model ids and root names come
// from the configuration, never from the request).
func (a *Attestation) refused(reason string, cred *webauthn.Credential) error {
	var why string
	switch reason {
	case refusedSynced:
		why = "it is a synced passkey (backup eligible), not a hardware security key"
	case refusedNone:
		why = "it gave no attestation (a synced passkey, a software authenticator, or a browser that withheld it)"
	case refusedSelf:
		why = "its attestation is self-signed, as a software authenticator's"
	case refusedAAGUID:
		why = "its model is not on the allow-list"
		if id, err := uuid.FromBytes(cred.Authenticator.AAGUID); err == nil {
			why = fmt.Sprintf("its model (AAGUID %s) is not on the allow-list", id)
		}
	default:
		why = "its attestation does not chain to a trusted root"
	}
	return public.Errorf(ErrAuthenticatorNotAllowed, "this security key is not accepted for your role: %s", why).WithHint(a.accepted())
}

// accepted says what the allow-list accepts, for a hint.
func (a *Attestation) accepted() string {
	const most = 5
	list := func(xs []string) string {
		if len(xs) > most {
			return strings.Join(xs[:most], ", ") + fmt.Sprintf(" and %d more", len(xs)-most)
		}
		return strings.Join(xs, ", ")
	}
	if a == nil || len(a.Roots) == 0 {
		return "no security key can be registered for this role until the administrator configures webauthn.attestation.roots"
	}
	var roots, models []string
	for _, r := range a.Roots {
		roots = append(roots, fmt.Sprintf("%q", r.Subject.CommonName))
	}
	for _, id := range a.AAGUIDs {
		models = append(models, id.String())
	}
	hint := "register a hardware security key whose attestation chains to " + list(roots)
	if len(models) > 0 {
		hint += ", of a model (AAGUID) among " + list(models)
	}
	return hint + ", and let the browser share its attestation (direct)"
}

// trustAnchors is the metadata provider the library checks an attestation
// against: an entry, with Roots as trust anchors, for each allowed model
// (any model when the list is empty); the chain must verify, the
// attestation type must carry one, and no status reports are kept.
type trustAnchors struct{ a *Attestation }

func (t trustAnchors) GetEntry(_ context.Context, aaguid uuid.UUID) (*metadata.Entry, error) {
	if !t.a.allows(aaguid) {
		return nil, nil
	}
	return &metadata.Entry{AaGUID: aaguid, MetadataStatement: metadata.Statement{AaGUID: aaguid, AttestationTypes: chained, AttestationRootCertificates: t.a.Roots}}, nil
}

func (trustAnchors) GetValidateEntry(context.Context) bool                 { return true }
func (trustAnchors) GetValidateEntryPermitZeroAAGUID(context.Context) bool { return false }
func (trustAnchors) GetValidateTrustAnchor(context.Context) bool           { return true }
func (trustAnchors) GetValidateStatus(context.Context) bool                { return false }
func (trustAnchors) GetValidateAttestationTypes(context.Context) bool      { return true }
func (trustAnchors) ValidateStatusReports(context.Context, []metadata.StatusReport) error {
	return nil
}

var _ metadata.Provider = trustAnchors{}

// attested reports whether role demands attested security keys.
func (s *Service) attested(role string) bool {
	return s.RoleAttested != nil && s.RoleAttested(role)
}

// keyRefusal returns why the role of u does not accept cred now, or "".
func (s *Service) keyRefusal(u *waUser, cred *webauthn.Credential) string {
	if !s.attested(u.op.Role) {
		return ""
	}
	return s.Attestation.refusal(cred, s.WebAuthn.Config.Attestation, s.WebAuthn.Config.Signature)
}

// dropRefused removes from u the keys its role does not accept now (a key
// registered before the role demanded attested keys, or before the
// operator had the role), keeping their ids in u.refused.
func (s *Service) dropRefused(u *waUser) {
	if !s.attested(u.op.Role) {
		return
	}
	var kept []webauthn.Credential
	for i := range u.creds {
		if s.keyRefusal(u, &u.creds[i]) == "" {
			kept = append(kept, u.creds[i])
		} else {
			u.refused = append(u.refused, u.creds[i].ID)
		}
	}
	u.creds = kept
}
