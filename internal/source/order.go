package source

import (
	"container/heap"
	"errors"
	"fmt"
	"strings"

	"github.com/mohit-nagaraj/kube-shift/internal/script"
)

// ErrInvalidScripts is wrapped by every error Order and OrderNames return:
// the scripts as declared cannot be ordered, whatever their sources hold.
var ErrInvalidScripts = errors.New("invalid scripts")

// UnknownDependencyError reports a dependsOn entry that names no script.
type UnknownDependencyError struct {
	Script     string
	Dependency string
}

func (e *UnknownDependencyError) Error() string {
	return fmt.Sprintf("script %q depends on %q, which is not a script of this migration", e.Script, e.Dependency)
}

func (e *UnknownDependencyError) Is(target error) bool { return target == ErrInvalidScripts }

// DuplicateNameError reports two scripts with the same name: dependsOn
// could not tell them apart.
type DuplicateNameError struct {
	Name string
}

func (e *DuplicateNameError) Error() string {
	return fmt.Sprintf("script name %q appears more than once", e.Name)
}

func (e *DuplicateNameError) Is(target error) bool { return target == ErrInvalidScripts }

// CycleError reports scripts that depend on each other in a circle. Cycle
// lists them in dependsOn order, starting from the one declared first, and
// ends where it began.
type CycleError struct {
	Cycle []string
}

func (e *CycleError) Error() string {
	return "dependsOn cycle: " + strings.Join(e.Cycle, " -> ")
}

func (e *CycleError) Is(target error) bool { return target == ErrInvalidScripts }

// Order returns scripts in execution order: every script after the scripts
// it depends on, and otherwise in the order the spec lists them.
func Order(scripts []script.Script) ([]script.Script, error) {
	names := make([]string, len(scripts))
	deps := make([][]string, len(scripts))
	for i, s := range scripts {
		names[i], deps[i] = s.Name, s.DependsOn
	}
	order, err := OrderNames(names, deps)
	if err != nil {
		return nil, err
	}
	ordered := make([]script.Script, len(order))
	for i, j := range order {
		ordered[i] = scripts[j]
	}
	return ordered, nil
}

// OrderNames is Order on bare names, for callers that hold the spec rather
// than loaded scripts (admission). dependsOn[i] lists what names[i] depends
// on. It returns indexes into names in execution order.
//
// This is Kahn's algorithm with the list index as priority: of the scripts
// whose dependencies have all run, the one listed first runs next, so a
// migration without dependsOn runs exactly in list order.
func OrderNames(names []string, dependsOn [][]string) ([]int, error) {
	index := make(map[string]int, len(names))
	for i, name := range names {
		if _, dup := index[name]; dup {
			return nil, &DuplicateNameError{Name: name}
		}
		index[name] = i
	}

	// deps[i] are the indexes i waits for, deduplicated; dependents is the
	// reverse edge set, which Kahn's algorithm walks.
	deps := make([][]int, len(names))
	dependents := make([][]int, len(names))
	for i := range names {
		seen := map[int]bool{}
		for _, d := range depsAt(dependsOn, i) {
			j, ok := index[d]
			if !ok {
				return nil, &UnknownDependencyError{Script: names[i], Dependency: d}
			}
			if seen[j] {
				continue
			}
			seen[j] = true
			deps[i] = append(deps[i], j)
			dependents[j] = append(dependents[j], i)
		}
	}

	waiting := make([]int, len(names))
	ready := &minHeap{}
	for i := range names {
		waiting[i] = len(deps[i])
		if waiting[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]int, 0, len(names))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, i)
		for _, j := range dependents[i] {
			if waiting[j]--; waiting[j] == 0 {
				heap.Push(ready, j)
			}
		}
	}
	if len(order) < len(names) {
		return nil, &CycleError{Cycle: findCycle(names, deps, waiting)}
	}
	return order, nil
}

func depsAt(dependsOn [][]string, i int) []string {
	if i < len(dependsOn) {
		return dependsOn[i]
	}
	return nil
}

// findCycle names one cycle among the scripts Kahn's algorithm could not
// order (waiting > 0). Each of them waits for another such script, so
// following those edges from any of them must come back to a script already
// visited; the walk from that script on is the cycle.
func findCycle(names []string, deps [][]int, waiting []int) []string {
	stuck := func(i int) bool { return waiting[i] > 0 }
	start := 0
	for !stuck(start) {
		start++
	}
	visitedAt := map[int]int{}
	var path []int
	for i := start; ; {
		if at, seen := visitedAt[i]; seen {
			path = path[at:]
			break
		}
		visitedAt[i] = len(path)
		path = append(path, i)
		for _, j := range deps[i] {
			if stuck(j) {
				i = j
				break
			}
		}
	}

	// Start from the script listed first so the message is the same
	// whichever script the walk began at.
	first := 0
	for k, i := range path {
		if i < path[first] {
			first = k
		}
	}
	cycle := make([]string, 0, len(path)+1)
	for k := range path {
		cycle = append(cycle, names[path[(first+k)%len(path)]])
	}
	return append(cycle, cycle[0])
}

// minHeap is the set of scripts ready to run, smallest list index first.
type minHeap []int

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(a, b int) bool { return h[a] < h[b] }
func (h minHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
