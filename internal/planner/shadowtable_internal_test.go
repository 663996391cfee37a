package planner

import (
	"testing"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
)

// A copy's lanes come out of what the target's connection limit leaves
// beside the apply's lock session, the copy's own and one for the rest.
func TestCopyLanesLeaveAConnectionSpare(t *testing.T) {
	for _, tc := range []struct {
		limit *database.ConnLimit
		want  int
	}{
		{limit: nil, want: 0}, // no limit: shadow's default
		{limit: database.NewConnLimit(2), want: 1},
		{limit: database.NewConnLimit(4), want: 1}, // a target's default
		{limit: database.NewConnLimit(5), want: 2},
		{limit: database.NewConnLimit(100), want: shadow.DefaultCopyLanes},
	} {
		n := 0
		if tc.limit != nil {
			n = tc.limit.Max()
		}
		if got := copyLanes(tc.limit); got != tc.want {
			t.Errorf("copyLanes(limit %d) = %d, want %d", n, got, tc.want)
		}
	}
}
