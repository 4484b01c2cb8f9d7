package synth

// givenName is a French given name and its grammatical gender.
type givenName struct {
	name   string
	female bool
}

// givenNames lists the given names people draw from. Their slugs (see
// appendSlug) must be distinct: the professional email depends on it.
var givenNames = [...]givenName{
	// Female.
	{"Marie", true}, {"Marie-Claire", true}, {"Marie-Hélène", true},
	{"Marie-Pierre", true}, {"Anne-Sophie", true}, {"Anne-Laure", true},
	{"Élodie", true}, {"Anaïs", true}, {"Camille", true}, {"Léa", true},
	{"Chloé", true}, {"Manon", true}, {"Inès", true}, {"Sarah", true},
	{"Julie", true}, {"Claire", true}, {"Sophie", true}, {"Isabelle", true},
	{"Nathalie", true}, {"Sandrine", true}, {"Céline", true}, {"Aurélie", true},
	{"Émilie", true}, {"Laetitia", true}, {"Stéphanie", true}, {"Valérie", true},
	{"Catherine", true}, {"Françoise", true}, {"Monique", true}, {"Sylvie", true},
	{"Hélène", true}, {"Mathilde", true}, {"Charlotte", true}, {"Pauline", true},
	{"Margaux", true}, {"Juliette", true}, {"Louise", true}, {"Zoé", true},
	{"Océane", true}, {"Clémence", true}, {"Agnès", true}, {"Bérénice", true},
	{"Noémie", true}, {"Maëlle", true}, {"Fatoumata", true}, {"Aïcha", true},
	{"Yasmine", true}, {"Nadia", true}, {"Fatima", true}, {"Amina", true},
	{"Lucie", true}, {"Brigitte", true}, {"Christine", true}, {"Véronique", true},
	{"Martine", true}, {"Gaëlle", true}, {"Solène", true}, {"Héloïse", true},
	{"Joséphine", true}, {"Chantal", true}, {"Cécile", true}, {"Alice", true},
	{"Emma", true}, {"Jeanne", true}, {"Rose-Marie", true}, {"Nolwenn", true},

	// Male.
	{"Jean", false}, {"Jean-Baptiste", false}, {"Jean-Pierre", false},
	{"Jean-Luc", false}, {"Jean-Marc", false}, {"Pierre-Yves", false},
	{"Paul-Henri", false}, {"Loïc", false}, {"Thomas", false}, {"Nicolas", false},
	{"Julien", false}, {"Maxime", false}, {"Antoine", false}, {"Alexandre", false},
	{"Sébastien", false}, {"Stéphane", false}, {"Frédéric", false}, {"Jérôme", false},
	{"Grégoire", false}, {"François", false}, {"Philippe", false}, {"Michel", false},
	{"Alain", false}, {"Bernard", false}, {"Patrick", false}, {"Christophe", false},
	{"Laurent", false}, {"Olivier", false}, {"Éric", false}, {"Benoît", false},
	{"Mathieu", false}, {"Guillaume", false}, {"Hugo", false}, {"Lucas", false},
	{"Théo", false}, {"Louis", false}, {"Gabriel", false}, {"Raphaël", false},
	{"Noé", false}, {"Mathis", false}, {"Enzo", false}, {"Yanis", false},
	{"Mehdi", false}, {"Karim", false}, {"Mohamed", false}, {"Youssef", false},
	{"Moussa", false}, {"Mamadou", false}, {"Bastien", false}, {"Romain", false},
	{"Florian", false}, {"Cédric", false}, {"Yannick", false}, {"Gaël", false},
	{"Hervé", false}, {"Thierry", false}, {"Didier", false}, {"Pascal", false},
	{"Xavier", false}, {"Joël", false}, {"Anthony", false}, {"Damien", false},
	{"Vincent", false}, {"Arnaud", false}, {"Marc", false}, {"Rémi", false},
	{"Adrien", false}, {"Félix", false},
}

// familyNames lists the family names people draw from, with a few Breton,
// African, Maghrebi, Vietnamese and Portuguese names and rare particles.
// Their slugs must be distinct.
var familyNames = [...]string{
	"Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand",
	"Dubois", "Moreau", "Laurent", "Simon", "Michel", "Lefebvre", "Leroy",
	"Roux", "David", "Bertrand", "Morel", "Fournier", "Girard", "Bonnet",
	"Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller",
	"Lefèvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer",
	"Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Garcia",
	"Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel",
	"Mathieu", "Gautier", "Masson", "Marchand", "Duval", "Denis", "Dumont",
	"Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier", "Brun",
	"Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard",
	"Barbier", "Arnaud", "Martinez", "Gérard", "Roche", "Renard", "Schmitt",
	"Roy", "Leroux", "Colin", "Vidal", "Caron", "Picard", "Roger", "Fabre",
	"Aubert", "Lemoine", "Renaud", "Dumas", "Lacroix", "Olivier", "Philippe",
	"Bourgeois", "Pierre", "Benoît", "Rey", "Leclerc", "Payet", "Rolland",
	"Leclercq", "Guillaume", "Lecomte", "Lopez", "Jean", "Dupuy", "Guillot",
	"Hubert", "Berger", "Carpentier", "Sanchez", "Dupuis", "Moulin", "Louis",
	"Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury", "Royer",
	"Klein", "Jacquet", "Adam", "Paris", "Poirier", "Marty", "Aubry", "Guyot",
	"Carré", "Charles", "Renault", "Charpentier", "Ménard", "Maillard",
	"Baron", "Bertin", "Bailly", "Hervé", "Schneider", "Fernandez", "Lebrun",
	"Collet", "Prévost", "Besnard", "Cordier", "Texier", "Hamon", "Jourdan",
	"Lemaître", "Tessier", "Weber", "Bouvier", "Chauvin", "Ferrand",
	"Bouchet", "Leblanc", "Delmas", "Maréchal", "Brossard", "Ollivier",
	"Le Gall", "Le Goff", "Le Roux", "Le Bihan", "Le Floch", "Kerbrat",
	"N'Diaye", "Diallo", "Traoré", "Koné", "Benali", "Haddad", "Bouzid",
	"Nguyen", "Tran", "Da Silva", "Dos Santos", "Ferreira", "Pereira",
	"Rodrigues", "Kowalski", "de La Fontaine", "de Villiers", "d'Aubigné",
}
