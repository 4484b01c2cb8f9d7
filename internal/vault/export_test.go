package vault

import "github.com/coffre/coffre/internal/subject"

// FieldNames lists the fields a stored row holds (their names are in
// clear in the sealed blob), for the external tests.
func FieldNames(row *subject.Row) ([]string, error) {
	var names []string
	err := eachField(row.Fields, func(name string, _ []byte) error {
		names = append(names, name)
		return nil
	})
	return names, err
}
