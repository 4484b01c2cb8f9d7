package seal

import (
	"context"
	"time"
)

// Flag is the seal flag that the nodes of one deployment share through
// their store: a seal on any node bumps its generation, and every
// unsealed node that sees the generation move past the one it adopted at
// its unseal seals itself ([Watch]). An unseal clears the mark and adopts
// the generation; it never unseals another node, which needs its own
// shares.
type Flag interface {
	// MarkSealed records a seal at t: it bumps the generation and sets
	// the mark. The vault calls it in the seal's audit transaction.
	MarkSealed(ctx context.Context, at time.Time) error
	// MarkUnsealed records an unseal: it clears the mark and returns the
	// generation, unchanged, that the unsealed node adopts.
	MarkUnsealed(ctx context.Context) (generation int64, err error)
	// SealFlag reads the generation and the time of the last seal not
	// followed by an unseal (zero after an unseal, or before any seal).
	SealFlag(ctx context.Context) (generation int64, sealedAt time.Time, err error)
}

// Watch reads the store's generation at every tick until ctx ends. When
// it differs from gen, the one this node adopted at its unseal (another
// node sealed the deployment), Watch calls sealed once with the
// generation read and returns. A read that fails is retried at the next
// tick: a store out of reach already answers 503, and keeps the node
// from serving data it cannot audit.
func Watch(ctx context.Context, tick <-chan time.Time, read func(context.Context) (int64, error), gen int64, sealed func(generation int64)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		g, err := read(ctx)
		if err != nil || g == gen {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		sealed(g)
		return
	}
}
