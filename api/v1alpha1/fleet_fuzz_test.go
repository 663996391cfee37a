package v1alpha1

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzFleetHash checks that a fleet hashes the same in any order of its
// pairs, and that no two different fleets built from the same text hash
// the same (a pair's target and plan are kept apart).
func FuzzFleetHash(f *testing.F) {
	f.Add("DatabaseTarget/a=sha256:1\nDatabaseTarget/b=sha256:2", uint64(1))
	f.Add("ClusterDatabaseTarget/x=h\nDatabaseTarget/x=h\nDatabaseTarget/y=", uint64(7))
	f.Add("a=b=c\n=", uint64(0))
	f.Fuzz(func(t *testing.T, text string, seed uint64) {
		var pairs []FleetPair
		for _, line := range strings.Split(text, "\n") {
			target, plan, _ := strings.Cut(line, "=")
			pairs = append(pairs, FleetPair{Target: target, PlanHash: plan})
		}
		want := FleetHash(pairs)
		shuffled := append([]FleetPair(nil), pairs...)
		rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := FleetHash(shuffled); got != want {
			t.Fatalf("the same fleet in another order hashes %s, not %s", got, want)
		}
		// Moving a character from a pair's plan to its target is
		// another fleet.
		for i, p := range pairs {
			if p.PlanHash == "" {
				continue
			}
			moved := append([]FleetPair(nil), pairs...)
			moved[i] = FleetPair{Target: p.Target + p.PlanHash[:1], PlanHash: p.PlanHash[1:]}
			if FleetHash(moved) == want {
				t.Fatalf("pair %q/%q and %q/%q hash the same", p.Target, p.PlanHash, moved[i].Target, moved[i].PlanHash)
			}
			break
		}
	})
}
