package integrity

import "sort"

// State is one capture of a schema's tables: what Recheck and Diff
// compare. It marshals to JSON, so that an apply interrupted between a
// capture and its recheck can keep it.
type State struct {
	// Engine is the Atlas dialect name of the engine captured; checksums of
	// different engines are not compared.
	Engine string `json:"engine"`
	// Schema is the schema the tables live in.
	Schema string `json:"schema"`
	// SamplePercentage and Checksum are the capture's settings; a
	// comparison needs both sides taken with the same ones.
	SamplePercentage int  `json:"samplePercentage"`
	Checksum         bool `json:"checksum"`
	// Tables are sorted by name.
	Tables []Table `json:"tables"`
}

// Table is one table's measurements.
type Table struct {
	Name string `json:"name"`
	// Columns are the columns the checksum covers, sorted by name so that
	// the physical column order does not matter.
	Columns []string `json:"columns"`
	// PrimaryKey holds the primary-key columns in key order: what rows are
	// sampled by. Empty when the table has none.
	PrimaryKey []string `json:"primaryKey,omitempty"`
	// Rows is the exact row count.
	Rows int64 `json:"rows"`
	// SampledRows is how many rows the checksum covers.
	SampledRows int64 `json:"sampledRows,omitempty"`
	// Checksum is the decimal sum of the sampled rows' hashes; empty when
	// no checksum was taken.
	Checksum string `json:"checksum,omitempty"`
	// CountOnly is true when the table has no primary key: its rows cannot
	// be sampled by key, so they are only counted.
	CountOnly bool `json:"countOnly,omitempty"`
}

// Table returns the named table's measurements, or nil.
func (s *State) Table(name string) *Table {
	i := sort.Search(len(s.Tables), func(i int) bool { return s.Tables[i].Name >= name })
	if i < len(s.Tables) && s.Tables[i].Name == name {
		return &s.Tables[i]
	}
	return nil
}

// CountOnly lists the tables that were only counted because they have no
// primary key, so that a caller can say that their contents went
// unchecked.
func (s *State) CountOnly() []string {
	var names []string
	for _, t := range s.Tables {
		if t.CountOnly {
			names = append(names, t.Name)
		}
	}
	return names
}

// checksummed reports whether t carries a checksum to compare.
func (t *Table) checksummed() bool { return t.Checksum != "" }

// add inserts t keeping Tables sorted by name.
func (s *State) add(t Table) {
	i := sort.Search(len(s.Tables), func(i int) bool { return s.Tables[i].Name >= t.Name })
	s.Tables = append(s.Tables, Table{})
	copy(s.Tables[i+1:], s.Tables[i:])
	s.Tables[i] = t
}
