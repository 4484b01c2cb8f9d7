package sqlite

import (
	"context"
	"fmt"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

func (t *tx) PutPartner(ctx context.Context, p *identity.Partner) error {
	_, err := t.exec(ctx, "putPartner", p.ID, p.Name, p.Sector, p.KeyHash, p.CertSerial, micros(p.Created))
	if isConstraint(err) {
		return fmt.Errorf("put partner: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put partner: %w", err)
	}
	return nil
}

func (t *tx) partner(ctx context.Context, stmt string, arg any) (*identity.Partner, error) {
	p := &identity.Partner{}
	var created int64
	if err := t.row(ctx, stmt, arg).Scan(&p.ID, &p.Name, &p.Sector, &p.KeyHash, &p.CertSerial, &created); err != nil {
		return nil, notFound(err, "get partner")
	}
	p.Created = fromMicros(created)
	return p, nil
}

func (t *tx) GetPartner(ctx context.Context, id string) (*identity.Partner, error) {
	return t.partner(ctx, "getPartner", id)
}

func (t *tx) GetPartnerByName(ctx context.Context, name string) (*identity.Partner, error) {
	return t.partner(ctx, "getPartnerByName", name)
}

func (t *tx) GetPartnerByKey(ctx context.Context, keyHash []byte) (*identity.Partner, error) {
	return t.partner(ctx, "getPartnerByKey", keyHash)
}

func (t *tx) SetPartnerCredentials(ctx context.Context, id string, keyHash []byte, serial string) error {
	return t.updateOne(ctx, "setPartnerCreds", keyHash, serial, id)
}

func (t *tx) PutPseudonym(ctx context.Context, sector, pseudonym, subject string) error {
	if _, err := t.exec(ctx, "putPseudonym", sector, pseudonym, subject); err != nil {
		return fmt.Errorf("put pseudonym: %w", err)
	}
	return nil
}

func (t *tx) ResolvePseudonym(ctx context.Context, sector, pseudonym string) (string, error) {
	var s string
	if err := t.row(ctx, "resolvePseudonym", sector, pseudonym).Scan(&s); err != nil {
		return "", notFound(err, "resolve pseudonym")
	}
	return s, nil
}
