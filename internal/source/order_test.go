package source

import (
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/script"
)

// scripts builds scripts from "name:dep,dep" specs.
func scripts(specs ...string) []script.Script {
	out := make([]script.Script, len(specs))
	for i, spec := range specs {
		name, deps, _ := strings.Cut(spec, ":")
		out[i] = script.Script{Name: name}
		if deps != "" {
			out[i].DependsOn = strings.Split(deps, ",")
		}
	}
	return out
}

func names(scripts []script.Script) []string {
	out := make([]string, len(scripts))
	for i, s := range scripts {
		out[i] = s.Name
	}
	return out
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name    string
		scripts []script.Script
		want    []string
		wantErr string
	}{
		{name: "empty", scripts: nil, want: []string{}},
		{name: "no dependencies keeps list order", scripts: scripts("c", "a", "b"), want: []string{"c", "a", "b"}},
		{name: "dependency moves a script later", scripts: scripts("a:b", "b"), want: []string{"b", "a"}},
		{name: "chain", scripts: scripts("c:b", "b:a", "a"), want: []string{"a", "b", "c"}},
		{
			// a waits for c; once c has run, a is ready together with d
			// and goes first because it is listed first.
			name:    "ties by list order",
			scripts: scripts("a:c", "b", "c", "d"),
			want:    []string{"b", "c", "a", "d"},
		},
		{
			name:    "diamond",
			scripts: scripts("top", "left:top", "right:top", "bottom:right,left"),
			want:    []string{"top", "left", "right", "bottom"},
		},
		{
			name:    "released script outranks later ready ones",
			scripts: scripts("x", "y:x", "z"),
			want:    []string{"x", "y", "z"},
		},
		{name: "duplicate dependsOn entries count once", scripts: scripts("a", "b:a,a"), want: []string{"a", "b"}},

		{name: "unknown dependency", scripts: scripts("a", "b:nope"), wantErr: `script "b" depends on "nope", which is not a script of this migration`},
		{name: "duplicate name", scripts: scripts("a", "a"), wantErr: `script name "a" appears more than once`},
		{name: "self dependency", scripts: scripts("a:a"), wantErr: "dependsOn cycle: a -> a"},
		{name: "cycle of three", scripts: scripts("a:b", "b:c", "c:a"), wantErr: "dependsOn cycle: a -> b -> c -> a"},
		{name: "cycle starts at first listed member", scripts: scripts("ok", "c:a", "b:c", "a:b"), wantErr: "dependsOn cycle: c -> a -> b -> c"},
		{name: "cycle behind a script that waits on it", scripts: scripts("head:x", "x:y", "y:x"), wantErr: "dependsOn cycle: x -> y -> x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := Order(tt.scripts)
			if tt.wantErr != "" {
				g.Expect(err).To(MatchError(tt.wantErr))
				g.Expect(errors.Is(err, ErrInvalidScripts)).To(BeTrue())
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(names(got)).To(Equal(tt.want))
		})
	}
}

func TestOrderErrorsAreTyped(t *testing.T) {
	g := NewWithT(t)

	_, err := Order(scripts("a:b", "b:a"))
	var cycle *CycleError
	g.Expect(errors.As(err, &cycle)).To(BeTrue())
	g.Expect(cycle.Cycle).To(Equal([]string{"a", "b", "a"}))

	_, err = Order(scripts("a:zz"))
	var unknown *UnknownDependencyError
	g.Expect(errors.As(err, &unknown)).To(BeTrue())
	g.Expect(*unknown).To(Equal(UnknownDependencyError{Script: "a", Dependency: "zz"}))
}

func TestOrderNamesReturnsIndexes(t *testing.T) {
	g := NewWithT(t)
	got, err := OrderNames([]string{"a", "b", "c"}, [][]string{{"c"}, nil, nil})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal([]int{1, 2, 0}))

	// dependsOn may be shorter than names.
	got, err = OrderNames([]string{"a", "b"}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal([]int{0, 1}))
}
