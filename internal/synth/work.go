package synth

// job is a job title in its masculine and feminine forms.
type job struct{ m, f string }

// title returns the form that agrees with the person's gender.
func (j job) title(female bool) string {
	if female {
		return j.f
	}
	return j.m
}

// Workplaces, by kind.
const (
	placeRectorat = iota // the academy's head office
	placeLycee
	placeCollege
	placeEcole
	placeAgency    // a France Travail agency
	placeDirection // a France Travail regional direction
)

// teachers are secondary-school teaching jobs; they are most of the staff of
// lycées and collèges.
var teachers = [...]job{
	{"Professeur de mathématiques", "Professeure de mathématiques"},
	{"Professeur de lettres modernes", "Professeure de lettres modernes"},
	{"Professeur de lettres classiques", "Professeure de lettres classiques"},
	{"Professeur d'histoire-géographie", "Professeure d'histoire-géographie"},
	{"Professeur d'anglais", "Professeure d'anglais"},
	{"Professeur d'espagnol", "Professeure d'espagnol"},
	{"Professeur d'allemand", "Professeure d'allemand"},
	{"Professeur de physique-chimie", "Professeure de physique-chimie"},
	{"Professeur de SVT", "Professeure de SVT"},
	{"Professeur d'EPS", "Professeure d'EPS"},
	{"Professeur de technologie", "Professeure de technologie"},
	{"Professeur d'arts plastiques", "Professeure d'arts plastiques"},
	{"Professeur d'éducation musicale", "Professeure d'éducation musicale"},
	{"Professeur documentaliste", "Professeure documentaliste"},
}

// lyceeOnly are teaching jobs found only in lycées.
var lyceeOnly = [...]job{
	{"Professeur de philosophie", "Professeure de philosophie"},
	{"Professeur de SES", "Professeure de SES"},
	{"Professeur d'économie-gestion", "Professeure d'économie-gestion"},
	{"Professeur de génie électrique", "Professeure de génie électrique"},
}

// schoolStaff are the other jobs of a lycée or collège.
var schoolStaff = [...]job{
	{"Conseiller principal d'éducation", "Conseillère principale d'éducation"},
	{"Assistant d'éducation", "Assistante d'éducation"},
	{"Accompagnant d'élèves en situation de handicap", "Accompagnante d'élèves en situation de handicap"},
	{"Infirmier scolaire", "Infirmière scolaire"},
	{"Psychologue de l'Éducation nationale", "Psychologue de l'Éducation nationale"},
	{"Secrétaire de direction", "Secrétaire de direction"},
	{"Gestionnaire matériel", "Gestionnaire matérielle"},
}

// heads are the heads of a lycée and of a collège.
var heads = [...]job{
	placeLycee:   {"Proviseur", "Proviseure"},
	placeCollege: {"Principal", "Principale"},
}

// ecoleJobs are the jobs of a primary school, most often a teacher.
var ecoleJobs = [...]job{
	{"Professeur des écoles", "Professeure des écoles"},
	{"Professeur des écoles", "Professeure des écoles"},
	{"Professeur des écoles", "Professeure des écoles"},
	{"Professeur des écoles", "Professeure des écoles"},
	{"Professeur des écoles", "Professeure des écoles"},
	{"Professeur des écoles", "Professeure des écoles"},
	{"Directeur d'école", "Directrice d'école"},
	{"Accompagnant d'élèves en situation de handicap", "Accompagnante d'élèves en situation de handicap"},
}

// rectoratJobs are the jobs of an academy's head office.
var rectoratJobs = [...]job{
	{"Inspecteur de l'Éducation nationale", "Inspectrice de l'Éducation nationale"},
	{"Inspecteur pédagogique régional", "Inspectrice pédagogique régionale"},
	{"Gestionnaire des ressources humaines", "Gestionnaire des ressources humaines"},
	{"Gestionnaire des ressources humaines", "Gestionnaire des ressources humaines"},
	{"Attaché d'administration de l'État", "Attachée d'administration de l'État"},
	{"Secrétaire administratif", "Secrétaire administrative"},
	{"Secrétaire administratif", "Secrétaire administrative"},
	{"Chef de bureau", "Cheffe de bureau"},
	{"Délégué à la protection des données", "Déléguée à la protection des données"},
	{"Chargé de mission numérique", "Chargée de mission numérique"},
	{"Conseiller en mobilité", "Conseillère en mobilité"},
	{"Technicien informatique", "Technicienne informatique"},
}

// agencyJobs are the jobs of a France Travail agency.
var agencyJobs = [...]job{
	{"Conseiller emploi", "Conseillère emploi"},
	{"Conseiller emploi", "Conseillère emploi"},
	{"Conseiller emploi", "Conseillère emploi"},
	{"Conseiller indemnisation", "Conseillère indemnisation"},
	{"Conseiller indemnisation", "Conseillère indemnisation"},
	{"Conseiller entreprise", "Conseillère entreprise"},
	{"Chargé d'accueil", "Chargée d'accueil"},
	{"Psychologue du travail", "Psychologue du travail"},
	{"Responsable d'équipe", "Responsable d'équipe"},
	{"Directeur d'agence", "Directrice d'agence"},
}

// directionJobs are the jobs of a France Travail regional direction.
var directionJobs = [...]job{
	{"Chargé de mission", "Chargée de mission"},
	{"Contrôleur de gestion", "Contrôleuse de gestion"},
	{"Juriste", "Juriste"},
	{"Gestionnaire des ressources humaines", "Gestionnaire des ressources humaines"},
	{"Auditeur interne", "Auditrice interne"},
	{"Délégué à la protection des données", "Déléguée à la protection des données"},
	{"Ingénieur statisticien", "Ingénieure statisticienne"},
}

// schoolNames are the names schools are given after; "Lycée Hoche",
// "Collège Jean Moulin", "École élémentaire Jules Ferry".
var schoolNames = [...]string{
	"Hoche", "Victor Hugo", "Jean Moulin", "Marie Curie", "Jules Ferry",
	"Louis Pasteur", "Condorcet", "Voltaire", "Jean Jaurès", "Simone Veil",
	"Camille Claudel", "Albert Camus", "Molière", "Jacques Prévert",
	"Paul Éluard", "George Sand", "Gustave Eiffel", "Lavoisier",
	"Montesquieu", "Descartes", "Jean de La Fontaine", "Louise Michel",
	"Olympe de Gouges", "Joséphine Baker", "Aimé Césaire", "Lucie Aubrac",
	"Henri IV", "Charlemagne", "Blaise Pascal", "Jean Zay",
}

// Prefixes of school names, indexed by workplace.
var schoolPrefixes = [...]string{
	placeLycee:   "Lycée ",
	placeCollege: "Collège ",
	placeEcole:   "École élémentaire ",
}

// streets are street names for addresses.
var streets = [...]string{
	"rue des Lilas", "rue de la République", "avenue Jean Jaurès",
	"boulevard Victor Hugo", "place de la Mairie", "rue de la Paix",
	"impasse des Tilleuls", "allée des Peupliers", "chemin des Vignes",
	"rue Pasteur", "avenue du Général de Gaulle", "rue Gambetta",
	"rue du Moulin", "rue de l'Église", "rue de la Gare", "quai Voltaire",
	"rue des Écoles", "avenue de la Libération", "rue Nationale",
	"boulevard de la Liberté", "rue du Château", "rue des Jardins",
	"rue Émile Zola", "rue Jean Moulin", "avenue Foch", "rue Saint-Martin",
	"rue des Acacias", "rue du Stade", "cours Mirabeau", "rue des Roses",
	"allée des Marronniers", "rue Victor Schœlcher",
}

// personalDomains are the public mail providers of personal addresses.
var personalDomains = [...]string{
	"gmail.com", "gmail.com", "gmail.com", "orange.fr", "orange.fr",
	"free.fr", "laposte.net", "hotmail.fr", "yahoo.fr", "sfr.fr",
	"outlook.fr", "wanadoo.fr",
}

// healthNotes are the special-category notes about 5% of people carry.
var healthNotes = [...]string{
	"Aménagement de poste : mobilité réduite",
	"Aménagement de poste : écran adapté (déficience visuelle)",
	"Aménagement de poste : siège ergonomique",
	"Reconnaissance de la qualité de travailleur handicapé (RQTH)",
	"Temps partiel thérapeutique",
	"Allergie sévère : arachide, trousse d'urgence sur place",
	"Diabète de type 1 : pauses à prévoir",
	"Déficience auditive : boucle magnétique en réunion",
	"Port de charges lourdes déconseillé",
	"Suivi médical renforcé par la médecine de prévention",
	"Congé de longue maladie en cours",
	"Épilepsie : protocole d'urgence transmis à l'infirmerie",
}
