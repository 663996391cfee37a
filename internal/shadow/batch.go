package shadow

import "time"

// Bounds of a copy batch sized by time. A batch never shrinks below
// minBatch rows, where round trips would dominate, nor grows beyond
// maxBatch, where one slow batch would hold its share locks for long. It
// grows at most twofold from one batch to the next, so that one batch
// that ran fast does not throw the size far off, but shrinks at once to
// what the last batch's rate says: while a batch runs the application
// waits for it (for its rows' locks; on MariaDB, every write to the
// shadow for the copy statement's AUTO-INC lock), so a batch slower than
// its aim, the server busy with other work, is not repeated.
const (
	minBatch = 100
	maxBatch = 200_000
)

// batchSizer chooses each copy batch's row count. Sized by time (target
// set), each batch moves as many rows as the last batch's rate says fit
// in target; otherwise every batch moves rows rows.
type batchSizer struct {
	rows   int
	target time.Duration
}

// size is the next batch's row count.
func (s *batchSizer) size() int { return s.rows }

// observe records that a batch of size rows took took, and resizes the
// next one. A batch with fewer rows than asked for (the table's end)
// says nothing about the rate: the size stays.
func (s *batchSizer) observe(rows int64, took time.Duration) {
	if s.target <= 0 || rows < int64(s.rows) {
		return
	}
	want := s.rows * 2
	if took > 0 {
		want = int(float64(s.rows) * float64(s.target) / float64(took))
	}
	s.rows = min(max(want, minBatch), s.rows*2, maxBatch)
}
