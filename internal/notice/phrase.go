package notice

import (
	"strings"
)

// Hasher is a keyed hash that stays the same for good (the keyring's
// StableHash): the phrase of a person must not change when keys rotate.
type Hasher interface {
	StableHash(label, value string) []byte
}

// Phrase is the person's verification phrase in lang: four words drawn
// from a keyed hash of their id. Every notice shows it and so does the
// portal once the person has signed in, so that a message that does not
// show it is not Coffre's: a phisher, who knows neither the key nor the
// person's id, cannot write it. It is not a secret to keep (it is in
// every notice) nor a credential (it signs nobody in).
func Phrase(h Hasher, subject, lang string) string {
	words := phraseEN
	if lang == "fr" {
		words = phraseFR
	}
	sum := h.StableHash("coffre notice phrase", subject)
	out := make([]string, 4)
	for i := range out {
		out[i] = words[int(sum[i])%len(words)]
	}
	return strings.Join(out, "-")
}

// 64 words each: short, common, unambiguous when read aloud.
var (
	phraseEN = strings.Fields(`amber anchor apple arrow badge basket beach bell
		berry blanket bottle bridge brush cabin candle canyon castle cedar
		chalk cherry cloud clover comet copper coral cotton desert dolphin
		eagle ember feather forest garden glacier harbor hazel island jacket
		kettle ladder lantern lemon maple meadow mirror mountain orchard otter
		paper pebble pepper pillow planet river saddle shell silver spoon
		summer thunder tiger tulip velvet violin`)
	phraseFR = strings.Fields(`abeille ananas arbre ardoise avion balcon bateau
		bougie bouteille brioche cactus camion canard carotte cerise chapeau
		chemin citron colline coquille crayon dauphin domino etoile falaise
		fenetre feuille flocon fontaine fourmi fraise gateau girafe grenier
		guitare hibou horloge jardin lanterne lapin lavande licorne lune
		marron melon miroir montagne nuage olive orange papillon parapluie
		pinceau plume pomme prairie radis renard rivage sapin tambour tortue
		tulipe violon`)
)
