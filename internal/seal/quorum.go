package seal

import (
	"context"

	"github.com/coffre/coffre/internal/unseal"
)

// SealShare enters one share towards a seal by a quorum of share holders
// (configuration seal.by: quorum), for a deployment where no single
// account may seal. With the M-th distinct share of the server's set, the
// rebuilt key is checked against the keyring (shares of a key that does
// not open it are all dropped: ErrWrongKey), then audit runs with the
// unsealed service (the seal's entry, written through it; when it fails nothing is sealed and the shares are dropped), then
// the server seals. It returns the progress and whether this share
// sealed. The shares are kept in memory only, apart from the unseal
// shares, and dropped after the accumulator's timeout.
func (s *State) SealShare(ctx context.Context, text string, audit func(context.Context, Service) error) (unseal.Progress, bool, error) {
	s.mu.Lock()
	u := s.cur.Load()
	if u == nil {
		s.mu.Unlock()
		return unseal.Progress{}, false, ErrSealed
	}
	sh, err := unseal.Parse(text)
	if err != nil {
		p := s.votes.Progress()
		s.mu.Unlock()
		return p, false, err
	}
	key, p, err := s.votes.Add(sh)
	if err != nil || key == nil {
		s.mu.Unlock()
		return p, false, err
	}
	keys, err := s.file.OpenSet(key)
	clear(key)
	if err != nil {
		s.mu.Unlock()
		return unseal.Progress{Need: p.Need}, false, err
	}
	keys.Wipe()
	s.mu.Unlock()
	if err := audit(ctx, u.svc); err != nil {
		return unseal.Progress{Need: p.Need}, false, err
	}
	if err := s.Seal(); err != nil {
		return unseal.Progress{Need: p.Need}, false, err
	}
	return p, true, nil
}

// SealProgress is how many seal shares are in, of how many.
func (s *State) SealProgress() unseal.Progress { return s.votes.Progress() }
