package script

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Type says what a script does. Its values are the API's ScriptType values,
// so one converts to the other as it is.
type Type string

const (
	// TypeSchema changes the schema.
	TypeSchema Type = "schema"
	// TypeData changes rows.
	TypeData Type = "data"
	// TypeValidation checks the result after the apply.
	TypeValidation Type = "validation"
)

// Script is one migration script with its SQL loaded and its checksum
// verified, ready for the planner.
type Script struct {
	// Name is unique within a migration.
	Name string
	// Type is schema, data or validation.
	Type Type
	// SQL is the script's text exactly as loaded.
	SQL string
	// Checksum is "sha256:<hex>" of SQL.
	Checksum string
	// DependsOn names scripts that run before this one.
	DependsOn []string
	// Timeout bounds the script's run; zero means no bound of its own.
	Timeout time.Duration
	// Sensitive is true when the script came from a Secret: its text is
	// never shown (status, events, messages), only its name and checksums.
	Sensitive bool
}

// Checksum returns "sha256:<hex>" of data, the form spec checksums take.
func Checksum(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
