package controller

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// FuzzSettingsText checks that the run settings the plan hash covers are
// the same text whatever the order of the scripts carrying timeouts, and
// another text when a timeout changes.
func FuzzSettingsText(f *testing.F) {
	f.Add("a,b,c", int64(1), uint64(3))
	f.Add("x", int64(0), uint64(0))
	f.Add("z,y,,w", int64(90), uint64(42))
	f.Fuzz(func(t *testing.T, names string, seconds int64, seed uint64) {
		seen := map[string]bool{}
		var scripts []dbv1.MigrationScript
		for i, name := range strings.Split(names, ",") {
			if seen[name] {
				continue // script names are unique (admission says so)
			}
			seen[name] = true
			d := metav1.Duration{Duration: time.Duration(seconds+int64(i)) * time.Second}
			scripts = append(scripts, dbv1.MigrationScript{Name: name, Timeout: &d})
		}
		dbm := &dbv1.DatabaseMigration{Spec: dbv1.DatabaseMigrationSpec{Migration: dbv1.MigrationConfig{Scripts: scripts}}}
		want := settingsText(dbm)

		shuffled := dbm.DeepCopy()
		rand.New(rand.NewPCG(seed, ^seed)).Shuffle(len(scripts), func(i, j int) {
			s := shuffled.Spec.Migration.Scripts
			s[i], s[j] = s[j], s[i]
		})
		if got := settingsText(shuffled); got != want {
			t.Fatalf("the same settings in another script order give\n%s\nnot\n%s", got, want)
		}
		changed := dbm.DeepCopy()
		changed.Spec.Migration.Scripts[0].Timeout.Duration += time.Millisecond
		if settingsText(changed) == want {
			t.Fatalf("a changed timeout gives the same settings: %s", want)
		}
	})
}
