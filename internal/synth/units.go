package synth

// unit is an organisational unit: an academy of the Éducation nationale or a
// regional division of France Travail.
type unit struct {
	code   string
	domain string   // professional email domain
	name   string   // employer name of its head office
	agency bool     // France Travail rather than an academy
	places []string // "postcode City" of the towns its people live in
}

// units is the fixed list behind [Units]; its order is part of the
// generator's output and must not change.
var units = [...]unit{
	{"ac-aix-marseille", "ac-aix-marseille.fr", "Académie d'Aix-Marseille", false,
		[]string{"13001 Marseille", "13100 Aix-en-Provence", "84000 Avignon", "05000 Gap"}},
	{"ac-amiens", "ac-amiens.fr", "Académie d'Amiens", false,
		[]string{"80000 Amiens", "60000 Beauvais", "02100 Saint-Quentin"}},
	{"ac-besancon", "ac-besancon.fr", "Académie de Besançon", false,
		[]string{"25000 Besançon", "90000 Belfort", "39000 Lons-le-Saunier"}},
	{"ac-bordeaux", "ac-bordeaux.fr", "Académie de Bordeaux", false,
		[]string{"33000 Bordeaux", "64000 Pau", "24000 Périgueux", "40000 Mont-de-Marsan"}},
	{"ac-clermont", "ac-clermont.fr", "Académie de Clermont-Ferrand", false,
		[]string{"63000 Clermont-Ferrand", "03200 Vichy", "15000 Aurillac"}},
	{"ac-corse", "ac-corse.fr", "Académie de Corse", false,
		[]string{"20000 Ajaccio", "20200 Bastia"}},
	{"ac-creteil", "ac-creteil.fr", "Académie de Créteil", false,
		[]string{"94000 Créteil", "93000 Bobigny", "77000 Melun", "93200 Saint-Denis", "93100 Montreuil"}},
	{"ac-dijon", "ac-dijon.fr", "Académie de Dijon", false,
		[]string{"21000 Dijon", "89000 Auxerre", "58000 Nevers", "71000 Mâcon"}},
	{"ac-grenoble", "ac-grenoble.fr", "Académie de Grenoble", false,
		[]string{"38000 Grenoble", "74000 Annecy", "73000 Chambéry", "26000 Valence"}},
	{"ac-lille", "ac-lille.fr", "Académie de Lille", false,
		[]string{"59000 Lille", "59100 Roubaix", "62000 Arras", "59140 Dunkerque"}},
	{"ac-limoges", "ac-limoges.fr", "Académie de Limoges", false,
		[]string{"87000 Limoges", "19100 Brive-la-Gaillarde", "23000 Guéret"}},
	{"ac-lyon", "ac-lyon.fr", "Académie de Lyon", false,
		[]string{"69003 Lyon", "69100 Villeurbanne", "42000 Saint-Étienne", "01000 Bourg-en-Bresse"}},
	{"ac-montpellier", "ac-montpellier.fr", "Académie de Montpellier", false,
		[]string{"34000 Montpellier", "30000 Nîmes", "66000 Perpignan", "34500 Béziers"}},
	{"ac-nancy-metz", "ac-nancy-metz.fr", "Académie de Nancy-Metz", false,
		[]string{"54000 Nancy", "57000 Metz", "88000 Épinal", "57100 Thionville"}},
	{"ac-nantes", "ac-nantes.fr", "Académie de Nantes", false,
		[]string{"44000 Nantes", "49000 Angers", "72000 Le Mans", "85000 La Roche-sur-Yon"}},
	{"ac-nice", "ac-nice.fr", "Académie de Nice", false,
		[]string{"06000 Nice", "83000 Toulon", "06400 Cannes", "06600 Antibes"}},
	{"ac-normandie", "ac-normandie.fr", "Académie de Normandie", false,
		[]string{"76000 Rouen", "14000 Caen", "76600 Le Havre", "27000 Évreux"}},
	{"ac-orleans-tours", "ac-orleans-tours.fr", "Académie d'Orléans-Tours", false,
		[]string{"45000 Orléans", "37000 Tours", "41000 Blois", "18000 Bourges"}},
	{"ac-paris", "ac-paris.fr", "Académie de Paris", false,
		[]string{"75005 Paris", "75011 Paris", "75013 Paris", "75015 Paris", "75018 Paris", "75020 Paris"}},
	{"ac-poitiers", "ac-poitiers.fr", "Académie de Poitiers", false,
		[]string{"86000 Poitiers", "17000 La Rochelle", "79000 Niort", "16000 Angoulême"}},
	{"ac-reims", "ac-reims.fr", "Académie de Reims", false,
		[]string{"51100 Reims", "10000 Troyes", "08000 Charleville-Mézières"}},
	{"ac-rennes", "ac-rennes.fr", "Académie de Rennes", false,
		[]string{"35000 Rennes", "29200 Brest", "56100 Lorient", "22000 Saint-Brieuc"}},
	{"ac-strasbourg", "ac-strasbourg.fr", "Académie de Strasbourg", false,
		[]string{"67000 Strasbourg", "68100 Mulhouse", "68000 Colmar"}},
	{"ac-toulouse", "ac-toulouse.fr", "Académie de Toulouse", false,
		[]string{"31000 Toulouse", "82000 Montauban", "81000 Albi", "65000 Tarbes"}},
	{"ac-versailles", "ac-versailles.fr", "Académie de Versailles", false,
		[]string{"78000 Versailles", "92000 Nanterre", "91000 Évry-Courcouronnes", "95000 Cergy", "92100 Boulogne-Billancourt"}},
	{"ft-idf-nord", "francetravail.fr", "France Travail Île-de-France", true,
		[]string{"93200 Saint-Denis", "95000 Cergy", "95100 Argenteuil", "93300 Aubervilliers"}},
	{"ft-idf-sud", "francetravail.fr", "France Travail Île-de-France", true,
		[]string{"91000 Évry-Courcouronnes", "94000 Créteil", "91300 Massy", "94400 Vitry-sur-Seine"}},
	{"ft-aura", "francetravail.fr", "France Travail Auvergne-Rhône-Alpes", true,
		[]string{"69007 Lyon", "38000 Grenoble", "63000 Clermont-Ferrand"}},
	{"ft-paca", "francetravail.fr", "France Travail Provence-Alpes-Côte d'Azur", true,
		[]string{"13003 Marseille", "06000 Nice", "83000 Toulon"}},
	{"ft-hdf", "francetravail.fr", "France Travail Hauts-de-France", true,
		[]string{"59000 Lille", "80000 Amiens", "59300 Valenciennes"}},
	{"ft-grand-est", "francetravail.fr", "France Travail Grand Est", true,
		[]string{"67000 Strasbourg", "51100 Reims", "57000 Metz"}},
}

// Units returns the codes of the organisational units, in a stable order.
// Every [Person] belongs to one of them. The slice is a fresh copy.
func Units() []string {
	codes := make([]string, len(units))
	for i := range units {
		codes[i] = units[i].code
	}
	return codes
}
