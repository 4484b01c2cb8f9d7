package auth

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
)

// PartnerCertValidity is how long a partner's client certificate is valid.
const PartnerCertValidity = 365 * 24 * time.Hour

// NewPartner is a registered partner with its credentials, shown once.
type NewPartner struct {
	Partner *identity.Partner
	APIKey  string
	Cert    *partner.Issued
}

// AddPartner registers a partner organisation acting under role in unit,
// whose clients see subjects through sector's pseudonyms, and issues its
// credentials: a client certificate from ca and an API key. The partner is
// an operator row too (username "partner:NAME", no usable password, no
// second factor), so the guard's budgets and locks apply to it.
func (s *Service) AddPartner(ctx context.Context, ca *partner.CA, name, sector, role, unit string) (*NewPartner, error) {
	np, op, err := s.newPartner(ca, name, sector, role, unit)
	if err != nil {
		return nil, err
	}
	err = s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := putPartner(ctx, tx, op, np.Partner); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: op.Created, Actor: "system", Action: "partner.add", Reason: partnerReason(np.Partner, role), Decision: "allow"})
	})
	if err != nil {
		return nil, fmt.Errorf("add partner: %w", err)
	}
	return np, nil
}

// newPartner makes the partner AddPartner stores, its operator row and
// its credentials.
func (s *Service) newPartner(ca *partner.CA, name, sector, role, unit string) (*NewPartner, *identity.Operator, error) {
	id := newOperatorID()
	now := s.now()
	key, hash := partner.NewAPIKey()
	cert, err := ca.IssueClient(id, time.Now(), PartnerCertValidity) // TLS checks validity against the wall clock
	if err != nil {
		return nil, nil, err
	}
	p := &identity.Partner{ID: id, Name: name, Sector: sector, KeyHash: hash, CertSerial: cert.Serial, Created: now}
	op := &identity.Operator{ID: id, Username: "partner:" + name, PasswordHash: NoPassword, Role: role, Unit: unit, Created: now}
	return &NewPartner{Partner: p, APIKey: key, Cert: cert}, op, nil
}

// putPartner stores a partner and its operator row.
func putPartner(ctx context.Context, tx store.Tx, op *identity.Operator, p *identity.Partner) error {
	if err := tx.PutOperator(ctx, op); err != nil {
		return err
	}
	return tx.PutPartner(ctx, p)
}

// partnerReason is the reason of a partner's registration in the audit log.
func partnerReason(p *identity.Partner, role string) string {
	return fmt.Sprintf("%s %s sector %s role %s", p.ID, p.Name, p.Sector, role)
}

// RotatePartner issues new credentials to partner name; the old
// certificate and key stop working at once.
func (s *Service) RotatePartner(ctx context.Context, ca *partner.CA, name string) (*NewPartner, error) {
	now := s.now()
	key, hash := partner.NewAPIKey()
	var p *identity.Partner
	var cert *partner.Issued
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if p, err = tx.GetPartnerByName(ctx, name); err != nil {
			return err
		}
		if cert, err = ca.IssueClient(p.ID, time.Now(), PartnerCertValidity); err != nil {
			return err
		}
		if err := tx.SetPartnerCredentials(ctx, p.ID, hash, cert.Serial); err != nil {
			return err
		}
		p.KeyHash, p.CertSerial = hash, cert.Serial
		if err := tx.DeleteOperatorSessions(ctx, p.ID); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: "system", Action: "partner.rotate", Reason: p.ID, Decision: "allow"})
	})
	if err != nil {
		return nil, fmt.Errorf("rotate partner: %w", err)
	}
	return &NewPartner{Partner: p, APIKey: key, Cert: cert}, nil
}

// AuthenticatePartner returns the actor of a partner request: the API key
// names the partner, and the client certificate (already verified against
// the CA by the TLS layer) must be that partner's current one.
func (s *Service) AuthenticatePartner(ctx context.Context, apiKey string, cert *x509.Certificate, origin string) (identity.Actor, error) {
	if cert == nil {
		return identity.Actor{}, partner.ErrNoClientCert
	}
	if len(apiKey) < 10 || len(apiKey) > 100 {
		return identity.Actor{}, ErrUnauthenticated
	}
	var p *identity.Partner
	var op *identity.Operator
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if p, err = tx.GetPartnerByKey(ctx, partner.HashAPIKey(apiKey)); err != nil {
			return err
		}
		op, err = tx.GetOperator(ctx, p.ID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return identity.Actor{}, ErrUnauthenticated
	}
	if err != nil {
		return identity.Actor{}, fmt.Errorf("authenticate partner: %w", err)
	}
	serial := partner.SerialOf(cert.SerialNumber)
	if subtle.ConstantTimeCompare([]byte(cert.Subject.CommonName), []byte(p.ID)) != 1 || subtle.ConstantTimeCompare([]byte(serial), []byte(p.CertSerial)) != 1 {
		if err := s.audit(ctx, p.ID, "partner.auth", "deny:wrong_certificate", origin); err != nil {
			return identity.Actor{}, fmt.Errorf("authenticate partner: %w", err)
		}
		return identity.Actor{}, ErrUnauthenticated
	}
	if op.Locked != "" || op.Disabled {
		return identity.Actor{}, access.ErrLocked
	}
	return identity.Actor{ID: p.ID, Role: op.Role, Unit: op.Unit, Origin: origin, Sector: p.Sector}, nil
}

// RevokePartnerCredentials makes partner id's API key and certificate
// stop working at once, and ends its sessions (breach containment; the
// caller checks the permission): the partner is given new ones on the
// host, out of band (coffre partner rotate), never through the API, so
// that a stolen officer's session cannot mint a partner's credentials.
// Audited as partner.revoke with the partner's id.
func (s *Service) RevokePartnerCredentials(ctx context.Context, a identity.Actor, id, reason string) error {
	_, hash := partner.NewAPIKey() // its key is thrown away: nobody holds it
	return s.act(ctx, a, "partner.revoke", guard.ActOther, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		e.Reason = reasonText(id, reason)
		if _, err := tx.GetPartner(ctx, id); errors.Is(err, store.ErrNotFound) {
			return refuse(public.Errorf(store.ErrNotFound, "no such partner %s", id))
		} else if err != nil {
			return err
		}
		if err := tx.SetPartnerCredentials(ctx, id, hash, ""); err != nil {
			return err
		}
		return tx.DeleteOperatorSessions(ctx, id)
	}, nil)
}
