package config

import "reflect"

// The keys of three mappings, for TestSuggestion.
var (
	topKeys     = keysOf(reflect.TypeFor[file]())
	sessionKeys = keysOf(reflect.TypeFor[sessionsFile]())
	fieldKeys   = keysOf(reflect.TypeFor[fieldFile]())
)
